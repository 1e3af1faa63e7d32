// The default export is a function, not defineProgram(...).
export default function main(): number {
  return 0;
}
