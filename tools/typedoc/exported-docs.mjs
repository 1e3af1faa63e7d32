// TypeDoc plugin: every symbol a package exports from its index (a function, class, interface, type,
// enum or variable) has a doc comment, or the API reference build fails (typedoc.json makes warnings
// errors). Members of classes and interfaces are not required, and neither are constants spelled as
// the kernel spells them (PROT_READ, EINVAL, SYS_mmap, PCI_COMMAND…) or macros (WEXITSTATUS): their
// meaning and value are Linux's, and their names say which header to read.
import { Application, ReflectionKind } from "typedoc";

/** PROT_READ, EINVAL, SYS_mmap, PG_dirty, __GFP_ZERO: a constant as the kernel spells it. */
const KERNEL_CONSTANT = /^_*[A-Z][A-Z0-9]*(_[A-Za-z0-9]+)*$/;
/** WEXITSTATUS, PFN_DOWN: a macro of the kernel's or libc's, as a function. */
const KERNEL_MACRO = /^_*[A-Z][A-Z0-9_]*$/;

function documented(r) {
  if (r.hasComment()) return true;
  const signatures = [
    ...(r.signatures ?? []),
    ...(r.type?.declaration?.signatures ?? []),
    ...(r.getSignature ? [r.getSignature] : []),
  ];
  return signatures.some((s) => s.hasComment());
}

/** @param {Application} app */
export function load(app) {
  app.on(Application.EVENT_VALIDATE_PROJECT, (project) => {
    const modules = project.getChildrenByKind(ReflectionKind.Module);
    for (const mod of modules.length ? modules : [project]) {
      for (const r of mod.children ?? []) {
        if (r.kindOf(ReflectionKind.Reference)) continue; // documented where it is declared
        if (r.kindOf(ReflectionKind.Variable) && KERNEL_CONSTANT.test(r.name)) continue;
        if (r.kindOf(ReflectionKind.Function) && KERNEL_MACRO.test(r.name)) continue;
        if (!documented(r)) {
          app.logger.warn(
            `${mod.name}: ${r.name} (${ReflectionKind.singularString(r.kind)}) is exported without a doc comment`,
          );
        }
      }
    }
  });
}
