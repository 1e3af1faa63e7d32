// Scenario errors, in one form everywhere: "file: field: expected …, got …" (no stack trace).

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly expected: string,
    got: unknown,
  ) {
    super(`${file}: ${field}: expected ${expected}, got ${describe(got)}`);
    this.name = "ScenarioError";
  }
}

/** What a device, driver or the machine said when it refused: shown whole, unquoted. */
export class Refusal {
  constructor(readonly text: string) {}
}

function describe(v: unknown): string {
  if (v instanceof Refusal) return v.text;
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
