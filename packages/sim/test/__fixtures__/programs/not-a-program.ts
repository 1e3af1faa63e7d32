// A module whose default export is a plain function, not defineProgram(...).
export default function main(): number {
  return 0;
}
