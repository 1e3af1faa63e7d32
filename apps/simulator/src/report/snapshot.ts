// The report-model snapshot (`faultline run --save state.flsnap` of a scenario's report, `faultline
// report state.flsnap`): a payload of kind "report-model" in the one snapshot container every kind of
// Faultline snapshot shares (@faultline/kernel's snapshot container: magic, format version, Faultline
// version, CRC-32, deflate where it pays, bounded inflate; a machine's own state is kind "machine").
// The container checks the bytes; this file checks the model field by field (validate.ts) before
// anything is built from it. Every failure is a SnapshotError saying what is wrong.
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  isSnapshot,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_MAGIC,
  SNAPSHOT_MAX_PAYLOAD,
  SnapshotError,
} from "@faultline/kernel";
import { FAULTLINE_VERSION } from "./build";
import type { ReportModel } from "./model";
import { checkReportModel } from "./validate";

export { isSnapshot, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC, SNAPSHOT_MAX_PAYLOAD, SnapshotError };

export const REPORT_MODEL_KIND = "report-model";
/**
 * The oldest container format a report model is read from: 2. Format 3 changed machine snapshots
 * only, and the model's checks (REPORT_MODEL_VERSION 1) are those of format 2. Format 1 files are
 * refused: the model changed meaning while format 1 was written (one frame record per allocation)
 * without a bump, so a format-1 file may hold either. `faultline run --save` wrote report models only
 * in format 1 (it has saved whole runs since), so every report-model file it wrote is refused; a
 * format-2 or later one comes only from `encodeSnapshot`.
 */
export const REPORT_MODEL_OLDEST_FORMAT = 2;

export interface Snapshot {
  /** The format version the file carries, and the Faultline version that wrote it. */
  readonly formatVersion: number;
  readonly faultline: string;
  readonly model: ReportModel;
}

export function encodeSnapshot(model: ReportModel): Uint8Array {
  checkReportModel(model);
  return encodeSnapshotContainer(REPORT_MODEL_KIND, { model }, FAULTLINE_VERSION);
}

export function decodeSnapshot(bytes: Uint8Array, options: { readonly maxPayload?: number } = {}): Snapshot {
  const c = decodeSnapshotContainer(bytes, [REPORT_MODEL_KIND], {
    reader: FAULTLINE_VERSION,
    oldestFormat: { [REPORT_MODEL_KIND]: REPORT_MODEL_OLDEST_FORMAT },
    ...(options.maxPayload === undefined ? {} : { maxPayload: options.maxPayload }),
  });
  const extra = Object.keys(c.fields).filter((k) => k !== "model");
  if (extra.length) throw new SnapshotError(`snapshot: unexpected key ${JSON.stringify(extra[0])}`);
  try {
    return {
      formatVersion: c.formatVersion,
      faultline: c.faultline,
      model: checkReportModel(c.fields.model, "model"),
    };
  } catch (e) {
    if (e instanceof TypeError) throw new SnapshotError(`snapshot: ${e.message}`);
    throw e;
  }
}
