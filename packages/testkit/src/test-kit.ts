/**
 * The kit a driver's tests hold: `boot()` gives a machine with devices, drivers and a first process;
 * `verify()`, run after each test (by `useMachine()` from `@faultline/testkit/vitest` or
 * `@faultline/testkit/node-test`, or by hand), checks every machine the test booted and forgets them.
 */
import {
  type DeviceModel,
  type DriverDefinition,
  Machine,
  type MachineOptions,
  type Process,
  type SpawnOptions,
  strerror,
} from "@faultline/kernel";
import type { BadPageExpectation, OopsExpectation } from "./internal/expectations";
import { type Booted, remember, verifyMachine, verifyReports } from "./internal/verify";

export type { BadPageExpectation, OopsExpectation } from "./internal/expectations";

/** How to boot: MachineOptions, with devices and drivers given so that each boot gets fresh ones. */
export interface BootOptions<
  D extends readonly DeviceModel[] = readonly DeviceModel[],
  R extends readonly DriverDefinition[] = readonly DriverDefinition[],
> extends Omit<MachineOptions, "devices" | "drivers"> {
  /**
   * Device models, realized in order. A device model is realized once, so defaults shared by many
   * boots give a function that makes new ones.
   */
  readonly devices?: D | (() => D);
  /**
   * Drivers, loaded in order once the devices are realized (a function receives the realized devices,
   * so a driver's options can name a PCI BAR's address). A driver whose init fails makes boot throw;
   * to test a failing init, boot without it and call `m.loadDriver()`.
   */
  readonly drivers?: R | ((devices: D) => R);
  /** The first process (default `{ name: "test" }`). */
  readonly spawn?: SpawnOptions;
}

/** A booted machine, its first process, and its devices and drivers as given (with their own types). */
export interface BootedMachine<
  D extends readonly DeviceModel[] = readonly DeviceModel[],
  R extends readonly DriverDefinition[] = readonly DriverDefinition[],
> {
  readonly m: Machine;
  /** The first process, pid 1: spawn more with `m.spawn()`. */
  readonly p: Process;
  readonly devices: D;
  readonly drivers: R;
}

/** What `verify()` throws: every problem found, one per line. */
export class TestKitError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `${problems.length} problem(s) found after the test:\n${problems.map((p, i) => `  ${i + 1}. ${p}`).join("\n")}`,
    );
    this.name = "TestKitError";
  }
}

/**
 * A booted machine for one test: its processes, device nodes and snapshots, and the checks that run after
 * the test (no undeclared oops or bad page, `checkInvariants()`, every frame back once processes exit).
 */
export class TestKit<
  D extends readonly DeviceModel[] = readonly DeviceModel[],
  R extends readonly DriverDefinition[] = readonly DriverDefinition[],
> {
  #machines: Booted[] = [];
  #oopses: OopsExpectation[] = [];
  #badPages: BadPageExpectation[] = [];

  /** `defaults` apply to every boot; a boot's own options replace them field by field. */
  constructor(readonly defaults: BootOptions<D, R> = {}) {}

  /**
   * Boots a machine (Machine.create with the devices, then each driver loaded), spawns its first
   * process, and remembers the machine for `verify()`.
   */
  async boot<const E extends readonly DeviceModel[] = D, const S extends readonly DriverDefinition[] = R>(
    options: BootOptions<E, S> = {},
  ): Promise<BootedMachine<E, S>> {
    const o = { ...this.defaults, ...options } as BootOptions<E, S>;
    const { devices: devicesIn, drivers: driversIn, spawn, ...machineOptions } = o;
    const devices = (typeof devicesIn === "function" ? devicesIn() : (devicesIn ?? [])) as E;
    const m = await Machine.create({ ...machineOptions, devices });
    const booted = remember(m);
    this.#machines.push(booted);
    const drivers = (typeof driversIn === "function" ? driversIn(devices) : (driversIn ?? [])) as S;
    for (const d of drivers) {
      const r = m.loadDriver(d);
      if (r !== 0) {
        const log = m.dmesg().slice(-6).join("\n    ");
        throw new Error(
          `boot: driver ${d.name} failed to load: init returned ${r} (${strerror(-r)})\n    ${log}`,
        );
      }
    }
    return { m, p: m.spawn(spawn ?? { name: "test" }), devices, drivers };
  }

  /** Every machine booted since the last `verify()`. */
  get machines(): readonly Machine[] {
    return this.#machines.map((b) => b.machine);
  }

  /**
   * Declares that this test expects an oops (by default exactly one matching `match` across the
   * test's machines); without it, any oops fails the test. Call it before or after the oops.
   */
  expectOops(match: OopsExpectation = {}): void {
    this.#oopses.push(match);
  }

  /** Declares an expected "BUG: Bad page state" report, as `expectOops` does for oopses. */
  expectBadPage(match: BadPageExpectation = {}): void {
    this.#badPages.push(match);
  }

  /**
   * Checks every machine booted since the last call (see internal/verify.ts for the order): no
   * undeclared oops or bad page, every declared one seen, `checkInvariants()` before and after
   * every process is killed and every driver unloaded, and every frame free at boot free again.
   * Throws a TestKitError naming each problem. Forgets the machines and expectations either way.
   * `options.testFailed`: the test already failed (declared oopses that never came are not reported).
   */
  verify(options: { readonly testFailed?: boolean } = {}): void {
    const machines = this.#machines;
    const oopses = this.#oopses;
    const badPages = this.#badPages;
    this.#machines = [];
    this.#oopses = [];
    this.#badPages = [];
    if (machines.length === 0) {
      if (!options.testFailed && (oopses.length || badPages.length))
        throw new TestKitError([
          "the test declared an oops or a bad page but booted no machine through the kit",
        ]);
      return;
    }
    const label = (i: number) =>
      machines.length > 1 ? `machine ${i + 1} of ${machines.length} (${machines[i]!.machine.era}): ` : "";
    const problems = machines.flatMap((b, i) => verifyMachine(b).map((p) => label(i) + p));
    problems.push(...verifyReports(machines, oopses, badPages, { testFailed: !!options.testFailed, label }));
    if (problems.length) throw new TestKitError(problems);
  }
}
