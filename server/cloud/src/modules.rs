//! ES modules: cloud code whose entry is `.mjs`, or `.js` under a `package.json` with `"type":
//! "module"`, is loaded with `import()` as Parse Server loads it. Module names are paths from
//! the code's root, as `require` uses. `import` of a relative file loads it as a module (or, for
//! CommonJS files, through `require`); `import` of `parse`/`parse/node` gives the SDK; `import`
//! of an npm package goes through `require` (packages load as CommonJS), its `module.exports`
//! the default export and its own keys named exports.

use std::sync::Arc;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Error, Function, Module, Object, Result};

use crate::Source;

/// The module `parse` and `parse/node` resolve to.
const PARSE: &str = "basalt:parse";
/// Prefix of a package's name: `basalt:package:<importing folder>|<specifier>`.
const PACKAGE: &str = "basalt:package:";

pub(crate) struct CodeResolver;

fn dirname(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// `spec` from folder `dir`, normalized; nothing resolves above the code's root.
fn join(dir: &str, spec: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in dir.split('/').chain(spec.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

impl Resolver for CodeResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<String> {
        // The boot script imports the entry; it is not in a folder of the code.
        let dir = if base.starts_with("basalt:") {
            ""
        } else {
            dirname(base)
        };
        if name == "parse" || name == "parse/node" {
            return Ok(PARSE.to_string());
        }
        if name.starts_with("./") || name.starts_with("../") || name.starts_with('/') {
            return Ok(join(if name.starts_with('/') { "" } else { dir }, name));
        }
        if (name.starts_with("node:") && name != "node:crypto") || name.contains('|') {
            return Err(Error::new_resolving_message(
                base,
                name,
                "cloud code cannot import Node's own modules",
            ));
        }
        Ok(format!("{PACKAGE}{dir}|{name}"))
    }
}

pub(crate) struct CodeLoader {
    pub code: Arc<Source>,
}

impl Loader for CodeLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<Module<'js, Declared>> {
        if name == PARSE {
            let src = "const P = globalThis.Parse;\nexport default P;\nexport { P as Parse };\n";
            return Module::declare(ctx.clone(), name, src);
        }
        if let Some(rest) = name.strip_prefix(PACKAGE) {
            let (dir, spec) = rest
                .split_once('|')
                .ok_or_else(|| Error::new_loading(name))?;
            return commonjs(ctx, name, dir, spec);
        }
        let script = self
            .code
            .script(name)
            .map_err(|e| Error::new_loading_message(name, e))?;
        let src = script
            .as_deref()
            .ok_or_else(|| Error::new_loading_message(name, "Cannot find module"))?;
        if name.ends_with(".json") {
            return Module::declare(ctx.clone(), name, format!("export default {src};\n"));
        }
        if self.code.is_module(name) {
            return Module::declare(ctx.clone(), name, src);
        }
        commonjs(ctx, name, "", &format!("/{name}"))
    }
}

/// A CommonJS module imported from an ES module: loaded now by `require` (so its keys can be
/// listed), then offered as a module whose default export is its `module.exports`.
fn commonjs<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    dir: &str,
    spec: &str,
) -> Result<Module<'js, Declared>> {
    let boot: Object = ctx.globals().get("__boot").map_err(|_| {
        Error::new_loading_message(name, "modules can be imported only while the code loads")
    })?;
    let wrap: Function = boot.get("commonjsModule")?;
    let src: String = wrap.call((dir, spec))?;
    Module::declare(ctx.clone(), name, src)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_inside_the_code() {
        assert_eq!(join("lib", "./a.js"), "lib/a.js");
        assert_eq!(join("lib/x", "../a.mjs"), "lib/a.mjs");
        assert_eq!(join("", "../../etc/passwd.js"), "etc/passwd.js");
        assert_eq!(join("", "/main.mjs"), "main.mjs");
    }
}
