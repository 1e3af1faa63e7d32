/**
 * create-faultline-driver as a library: the generator behind `npm create faultline-driver`. This file
 * is the package's whole public surface.
 */
export { type CliEnv, main, USAGE } from "./cli";
export {
  defaultFolder,
  folderProblem,
  invalidPackageName,
  type ScaffoldOptions,
  scaffold,
  TEMPLATE_DIR,
} from "./scaffold";
