//! Generates the C header from `src/ffi/` with cbindgen.
//!
//! The header is written to `$OUT_DIR/midge.h` on every build; `tests/header.rs` fails when
//! the committed `include/midge.h` differs from it. `MIDGE_UPDATE_HEADER=1 cargo build`
//! refreshes the committed copy. The build never writes to the source tree otherwise.

use std::path::PathBuf;

fn main() {
    soname();
    // cbindgen reads the whole crate (any public constant could reach the header).
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=MIDGE_UPDATE_HEADER");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("reading cbindgen.toml");
    let generated = out_dir.join("midge.h");
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&generated);
        }
        Err(e) => {
            // A syntax error in the crate is reported by rustc itself, better than here.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            return;
        }
    }
    if std::env::var_os("MIDGE_UPDATE_HEADER").is_some() {
        let committed = crate_dir.join("include").join("midge.h");
        std::fs::create_dir_all(committed.parent().expect("has a parent"))
            .expect("creating include/");
        std::fs::copy(&generated, &committed).expect("writing include/midge.h");
    }
}

/// The shared library's SONAME is `libmidge.so.MAJOR`: programs record the ABI's major
/// version (NEEDED libmidge.so.1), so an incompatible libmidge.so.2 never replaces it under
/// them. A Rust cdylib has no SONAME unless the linker is told (ELF targets only).
fn soname() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "macos" | "ios" | "windows" | "tvos" | "watchos" | "visionos"
    ) {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmidge.so.{major}");
}
