import { definePciDevice } from "@faultline/devices";
import { NANOSECONDS_PER_SECOND, PhysMachine } from "@faultline/phys";

/**
 * A metronome: it beats `bpm` times a minute on the machine's virtual clock, counts the beats in
 * register 0x00 and raises INTA at each one; writing register 0x04 acknowledges (lowers INTA).
 */
export function metronome(bpm: number) {
  const period = Math.round((60 * NANOSECONDS_PER_SECOND) / bpm);
  return definePciDevice({
    name: "metronome",
    vendorId: 0x1b36,
    deviceId: 0x0f0c,
    classCode: 0xff0000,
    interruptPin: 1,
    state: { name: "metronome", version: 1, fields: { beats: 0 } },
    bars: [
      {
        index: 0,
        type: "mem32",
        size: 0x1000,
        ops: {
          read: (s, offset) => (offset === 0x00 ? s.beats : 0),
          write(_s, offset, _size, _value, ctx) {
            if (offset === 0x04) ctx.setIrq(false);
          },
        },
      },
    ],
    // Timers are armed once the device is on the bus; a periodic one re-arms itself.
    realize(s, ctx) {
      const beat = ctx.newTimer(() => {
        s.beats++;
        ctx.setIrq(true);
        beat.mod(ctx.now + period);
      }, "beat");
      beat.mod(ctx.now + period);
    },
  });
}

export function main() {
  const phys = PhysMachine.create({ ramBytes: 64 << 20 });
  const edges: string[] = [];
  // The interrupt controller's side of the wire (the kernel installs its own).
  phys.pci.intxHandler = (_fn, _irq, level) => edges.push(`${level ? "raise" : "lower"}@${phys.clock.now}`);
  const m = metronome(120); // a beat every 500 ms
  m.realize(phys);
  const regs = m.barAddress(0)!;

  const atStart = phys.physRead32(regs);
  phys.clock.advance(NANOSECONDS_PER_SECOND); // time moves only when told to
  const afterOneSecond = phys.physRead32(regs);
  phys.physWrite32(regs + 0x04, 1); // acknowledge
  phys.clock.advance(NANOSECONDS_PER_SECOND / 2);
  return { atStart, afterOneSecond, beats: phys.physRead32(regs), edges, now: phys.clock.now };
}
