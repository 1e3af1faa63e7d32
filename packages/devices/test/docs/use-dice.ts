import { PhysMachine } from "@faultline/phys";
import { DICE_ROLL, DICE_SEED, dice } from "./dice";

export function main() {
  const phys = PhysMachine.create({ ramBytes: 16 << 20 });
  const dev = dice(0xc8000);
  dev.realize(phys);

  phys.physWrite32(0xc8000 + DICE_SEED, 42);
  const rolls = [1, 2, 3].map(() => phys.physRead32(0xc8000 + DICE_ROLL));

  const saved = dev.saveState(); // { name: "dice", version: 1, fields: { seed: … } }
  dev.reset(); // seed back to 1
  dev.loadState(saved); // and back again

  phys.physWrite32(0xc8000, 7); // a guest mistake: logged, not thrown
  return { rolls, saved, errors: phys.guestErrors().map((e) => e.message), iomem: phys.iomem() };
}
