/**
 * Memory protection keys, as x86-64 Linux has them (arch/x86/mm/pkeys.c, arch/x86/include/asm/pkeys.h,
 * arch/x86/include/asm/mmu_context.h, the pkey syscalls in mm/mprotect.c; pkeys(7), pkey_alloc(2)).
 *
 * A CPU with PKU tags every user PTE with a 4-bit key and checks each data access against the PKRU
 * register of the running thread: two bits per key, access-disable and write-disable. Instruction
 * fetches are never checked, which is how Linux gives PROT_EXEC-only mappings real execute-only
 * protection: such a mapping gets the mm's "execute-only" key, whose PKRU bits deny all data access.
 *
 * Processes here are single-threaded: the PKRU of the one thread lives with the mm, in one Int32 of
 * shared memory so that a worker's MMU (which reads it on every page walk) and the kernel (which
 * changes it in pkey_alloc and for the execute-only key) see the same register.
 */
import { PROT_EXEC, VM_EXEC } from "./constants";
import { EINVAL, ENOSPC, ENOSYS } from "./errno";

export const PKEY_DISABLE_ACCESS = 0x1;
export const PKEY_DISABLE_WRITE = 0x2;
/** The rights pkey_alloc's init_val and pkey_set may name on x86 (include/uapi/asm-generic/mman-common.h). */
export const PKEY_ACCESS_MASK = PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE;
/** arch_max_pkey() with PKU: 16 keys, key 0 the default. */
export const PKU_NR_KEYS = 16;
/** The default key of every mapping (ARCH_DEFAULT_PKEY). */
export const ARCH_DEFAULT_PKEY = 0;
/**
 * init_pkru_value (arch/x86/kernel/fpu/xstate.c): every key but 0 access-disabled, so memory tagged
 * with a freshly allocated key is unreachable until pkey_alloc's init_val or pkey_set allows it.
 */
export const INIT_PKRU_VALUE = 0x55555554;

/** May the PKRU value `pkru` read (and, with `write`, write) memory tagged `pkey`? (__pkru_allows_pkey) */
export const pkruAllows = (pkru: number, pkey: number, write: boolean): boolean => {
  const rights = (pkru >>> (2 * pkey)) & 3;
  return write ? rights === 0 : (rights & PKEY_DISABLE_ACCESS) === 0;
};

/**
 * glibc's pkey_get(3) on a PKRU cell: the rights of `key`, -EINVAL for a key outside 0..15, -ENOSYS
 * without PKU (glibc's generic stub; x86 glibc would execute RDPKRU and die of SIGILL).
 */
export function pkruGet(pkru: Int32Array, enabled: boolean, key: number): number {
  if (!enabled) return -ENOSYS;
  if (!Number.isInteger(key) || key < 0 || key > 15) return -EINVAL;
  return (pkru[0]! >>> (2 * key)) & 3;
}

/** glibc's pkey_set(3) on a PKRU cell (WRPKRU): 0, -EINVAL, or -ENOSYS without PKU. */
export function pkruSet(pkru: Int32Array, enabled: boolean, key: number, rights: number): number {
  if (!enabled) return -ENOSYS;
  if (!Number.isInteger(key) || key < 0 || key > 15) return -EINVAL;
  if (!Number.isInteger(rights) || rights < 0 || rights > 3) return -EINVAL;
  const shift = 2 * key;
  pkru[0] = ((pkru[0]! >>> 0) & ~(3 << shift)) | (rights << shift);
  return 0;
}

/**
 * pkey_set(3) on a thread's PKRU cell, and what WRPKRU means for the translations a TLB caches: when the
 * register changed, `flush` drops them (they were checked against the old value). The one copy, for the
 * kernel's view of the thread (MmPkeys.set) and a worker's own thread (sim).
 */
export function pkruSetAndFlush(
  pkru: Int32Array,
  enabled: boolean,
  key: number,
  rights: number,
  flush: () => void,
): number {
  const old = pkru[0];
  const r = pkruSet(pkru, enabled, key, rights);
  if (pkru[0] !== old) flush();
  return r;
}

/** The pkey state of one mm (mm->context.pkey_allocation_map, execute_only_pkey) and its thread's PKRU. */
export class MmPkeys {
  /** Bit n set: key n is allocated (mm_pkey_allocation_map). Key 0 is allocated implicitly with PKU. */
  allocationMap: number;
  /** The key execute-only mappings use, -1 until first needed (mm->context.execute_only_pkey). */
  executeOnlyPkey: number;
  /** PKRU of the process's thread: one Int32 in a SharedArrayBuffer (see the file comment). */
  readonly pkru: Int32Array;

  constructor(
    /** X86_FEATURE_OSPKE: the CPU has PKU and the kernel enabled it. */
    readonly enabled: boolean,
    /** Called after the kernel changed the PKRU (TLBs caching what the old value allowed must go). */
    private readonly onPkruChange: () => void = () => {},
  ) {
    this.pkru = new Int32Array(new SharedArrayBuffer(4));
    // init_new_context(): without OSPKE the map stays 0 and execute_only_pkey 0 (never set up).
    this.allocationMap = enabled ? 1 : 0;
    this.executeOnlyPkey = enabled ? -1 : 0;
    this.pkru[0] = enabled ? INIT_PKRU_VALUE : 0;
  }

  /** fork: dup_mm() copies mm->context (arch_dup_pkeys), and the child thread inherits the PKRU. */
  inherit(parent: MmPkeys): void {
    this.allocationMap = parent.allocationMap;
    this.executeOnlyPkey = parent.executeOnlyPkey;
    this.pkru[0] = parent.pkru[0]!;
  }

  /** arch_max_pkey() */
  get maxPkey(): number {
    return this.enabled ? PKU_NR_KEYS : 1;
  }

  /** The thread's PKRU as an unsigned value (RDPKRU). */
  get value(): number {
    return this.pkru[0]! >>> 0;
  }

  /** mm_pkey_is_allocated(): the execute-only key is allocated but not the user's to name. */
  isAllocated(pkey: number): boolean {
    if (!Number.isInteger(pkey) || pkey < 0 || pkey >= this.maxPkey) return false;
    if (pkey === this.executeOnlyPkey) return false;
    return (this.allocationMap & (1 << pkey)) !== 0;
  }

  /**
   * mm_pkey_alloc(): the lowest free key, or -1. As in Linux up to 6.18, a CPU without PKU has a map
   * of 0 and one "key", so the first call hands out key 0 (and pkey_alloc then fails with -EINVAL in
   * arch_set_user_pkey_access, leaving it marked), later calls find none (-ENOSPC). Fixed after 6.18
   * by commit dee87e09b0dd ("x86/pkeys: Fix pkey_alloc() return value when pkeys are not supported").
   */
  private mmAlloc(): number {
    const all = (1 << this.maxPkey) - 1;
    if (this.allocationMap === all) return -1;
    let k = 0;
    while (this.allocationMap & (1 << k)) k++;
    this.allocationMap |= 1 << k;
    return k;
  }

  /** arch_set_user_pkey_access(): sets the thread's PKRU bits for `pkey`. */
  private setUserAccess(pkey: number, rights: number): number {
    if (!this.enabled) return -EINVAL;
    const shift = 2 * pkey;
    const old = this.pkru[0]!;
    this.pkru[0] = (this.value & ~(3 << shift)) | ((rights & PKEY_ACCESS_MASK) << shift);
    if (this.pkru[0] !== old) this.onPkruChange();
    return 0;
  }

  /** pkey_alloc(2): the key, or -EINVAL / -ENOSPC. */
  alloc(flags: number, initVal: number): number {
    if (flags !== 0) return -EINVAL;
    // init_val & ~PKEY_ACCESS_MASK on an unsigned long: the mask is the low bits, so "> mask".
    if (!Number.isInteger(initVal) || initVal < 0 || initVal > PKEY_ACCESS_MASK) return -EINVAL;
    const pkey = this.mmAlloc();
    if (pkey < 0) return -ENOSPC;
    const err = this.setUserAccess(pkey, initVal);
    if (err) {
      this.free(pkey);
      return err;
    }
    return pkey;
  }

  /** pkey_free(2) (mm_pkey_free): 0 or -EINVAL. Key 0 may be freed; the execute-only key may not. */
  free(pkey: number): number {
    if (!this.isAllocated(pkey)) return -EINVAL;
    this.allocationMap &= ~(1 << pkey);
    return 0;
  }

  /**
   * __execute_only_pkey(): the mm's execute-only key, allocated on first use, with the thread's PKRU
   * made to deny data access through it. -1 when no key is free (or without PKU).
   */
  executeOnly(): number {
    if (!this.enabled) return -1;
    let pkey = this.executeOnlyPkey;
    const fresh = pkey === -1;
    if (fresh) {
      pkey = this.mmAlloc();
      if (pkey < 0) return -1;
    }
    // Skip the PKRU write when the key is already access-disabled.
    if (!fresh && !pkruAllows(this.value, pkey, false)) return pkey;
    this.setUserAccess(pkey, PKEY_DISABLE_ACCESS);
    if (fresh) this.executeOnlyPkey = pkey;
    return pkey;
  }

  /**
   * arch_override_mprotect_pkey(): the key a VMA gets from mprotect(prot) (pkey -1) or
   * pkey_mprotect(prot, pkey). `vmaAccess` is the VMA's VM_READ|VM_WRITE|VM_EXEC bits.
   */
  overrideMprotectPkey(vmaPkey: number, vmaAccess: number, prot: number, pkey: number): number {
    if (!this.enabled) return 0;
    if (pkey !== -1) return pkey;
    if (prot === PROT_EXEC) {
      const k = this.executeOnly();
      if (k > 0) return k;
    } else if (vmaAccess === VM_EXEC && vmaPkey === this.executeOnlyPkey) {
      // The mapping was execute-only and no longer is: back to the default key.
      return ARCH_DEFAULT_PKEY;
    }
    return vmaPkey;
  }

  /**
   * A signal handler starts with PKRU = init_pkru_value (fpu__clear_user_states()); a handler that
   * siglongjmps out leaves it so. Runtimes that deliver a handled fault call this.
   */
  signalDelivered(): void {
    if (!this.enabled || this.pkru[0] === INIT_PKRU_VALUE) return;
    this.pkru[0] = INIT_PKRU_VALUE;
    this.onPkruChange();
  }

  /** glibc's pkey_get(3) on the thread (pkruGet). */
  get(key: number): number {
    return pkruGet(this.pkru, this.enabled, key);
  }

  /** glibc's pkey_set(3) on the thread (pkruSet); TLBs are flushed when PKRU changed. */
  set(key: number, rights: number): number {
    return pkruSetAndFlush(this.pkru, this.enabled, key, rights, this.onPkruChange);
  }
}
