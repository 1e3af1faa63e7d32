/**
 * mm/page_alloc.c's bad_page(): a page found in a bad state while a teardown releases it (a PTE whose
 * reference nobody took: a fault handler that forgot get_page) is reported, taken out of circulation
 * and blamed on the driver that installed it, and the teardown goes on. munmap, MAP_FIXED, mremap,
 * MADV_DONTNEED, exit and a simulator's reap of a dead worker all end in the same zap (mm's rmap.ts).
 */
import { setBadPageHandler } from "@faultline/mm";
import { type Kernel, RELEASE } from "./kernel";

export type { BadPageRecord } from "./kernel";

const hex = (n: number) => n.toString(16);

/** Makes the kernel the handler of every bad page its memory's zaps find. */
export function installBadPageHandler(k: Kernel): void {
  setBadPageHandler(k.mem, (_mm, pfn, e) => badPage(k, pfn, e.message));
}

/** The report (bad_page() → dump_page(), print_modules(), dump_stack()), the taint, the record. */
export function badPage(k: Kernel, pfn: number, why: string): void {
  const t = k.current;
  const comm = t?.comm ?? "swapper/0";
  const installer = k.unreferencedFaultPages.get(pfn) ?? null;
  k.unreferencedFaultPages.delete(pfn);
  const mem = k.mem;
  const reason = `${why.replace(/^putPage\(pfn 0x[0-9a-f]+\): /, "put_page: ")}`;
  k.badPages.push({ pfn, pid: t?.pid ?? null, comm, driver: installer?.driver ?? null, reason });
  k.log.printk(1, `BUG: Bad page state in process ${comm}  pfn:${hex(pfn).padStart(5, "0")}`);
  k.log.printk(
    4,
    `page: refcount:${mem.pageCount(pfn)} mapcount:${Atomics.load(mem.mapcount, pfn)} mapping:0000000000000000 index:0x0 pfn:0x${hex(pfn)}`,
  );
  k.log.printk(4, `page dumped because: ${reason}`);
  if (installer) {
    k.log.printk(
      4,
      `page mapped by driver ${installer.driver}'s vm_ops->${installer.callback}, which took no reference on it (getPage)`,
    );
  }
  k.log.printk(4, `Modules linked in: ${installer?.driver ?? [...k.drivers.keys()].join(" ")}`);
  k.log.printk(4, `CPU: 0 PID: ${t?.pid ?? 0} Comm: ${comm} Tainted: G    B    O       ${RELEASE[k.era]}`);
  if (k.badPages.length === 1) k.log.printk(4, "Disabling lock debugging due to kernel taint");
  k.log.printk(4, `page pfn:0x${hex(pfn)} quarantined: it is never handed out again`);
}
