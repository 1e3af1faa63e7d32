import { simple } from "@faultline/driver-simple";
import { MAP_SHARED, Machine, O_RDWR, PROT_READ, PROT_WRITE } from "@faultline/kernel";

const m = await Machine.create({ ramBytes: 64 << 20, era: "modern", devices: [], drivers: [simple()] });
const p = m.spawn();
const fd = p.libc.open("/dev/simpler", O_RDWR);
const a = p.libc.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0xa0000);
p.mmu.store8(a, 0x41);
console.log(p.procMaps(), m.dmesg());
m.checkInvariants();
