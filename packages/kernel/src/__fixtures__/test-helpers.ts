/**
 * Helpers the kernel's tests share: a machine snapshot's state taken out of its bytes (to read or
 * tamper with) and put back, and a struct timespec read out of a syscall's buffer.
 */
import { decodeSnapshotContainer, encodeSnapshotContainer } from "../index";
import type { MachineState } from "../snapshot/state";

/** The machine state inside snapshot `bytes`, as decoded (its fields not yet checked): read it or tamper with it. */
export const stateOf = (bytes: Uint8Array): MachineState & Record<string, unknown> =>
  decodeSnapshotContainer(bytes, ["machine"]).fields.machine as MachineState & Record<string, unknown>;

/** A machine state (tampered with, or built by hand) as snapshot bytes of this build's format. */
export const bytesOf = (state: unknown): Uint8Array =>
  encodeSnapshotContainer("machine", { machine: state }, "0.1.0");

/** A struct timespec buffer's two fields, tv_sec and tv_nsec (little-endian 64-bit). */
export function timespec(b: Uint8Array): [bigint, bigint] {
  const v = new DataView(b.buffer, b.byteOffset, 16);
  return [v.getBigInt64(0, true), v.getBigInt64(8, true)];
}
