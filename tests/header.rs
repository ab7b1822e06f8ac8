//! The committed C header is the one the code generates, names only `midge_` / `MIDGE_`
//! things, and carries the crate's version.

use std::path::Path;

// Links the library, whose C symbols the version test calls.
use midge as _;

fn committed() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/midge.h"))
        .expect("include/midge.h is committed")
}

#[test]
fn committed_header_matches_the_generated_one() {
    let generated = std::fs::read_to_string(Path::new(env!("OUT_DIR")).join("midge.h"))
        .expect("build.rs generated the header");
    assert!(
        committed() == generated,
        "include/midge.h is stale: run `MIDGE_UPDATE_HEADER=1 cargo build` and commit it"
    );
}

/// The header without comments and preprocessor lines.
fn code(header: &str) -> String {
    let mut out = String::new();
    let mut rest = header;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("closed comment") + start + 2;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_declared_name_has_the_midge_prefix() {
    let header = committed();
    // Macro names.
    for line in header.lines().filter(|l| l.starts_with("#define ")) {
        let name = line.split_whitespace().nth(1).unwrap();
        assert!(name.starts_with("MIDGE_"), "macro {name}");
    }
    // Every other identifier must be a C keyword or type, a parameter name, or ours.
    let c_words: &[&str] = &[
        "typedef", "enum", "struct", "const", "void", "char", "int", "bool", "size_t", "uint8_t",
        "uint16_t", "uint32_t", "uint64_t", "int32_t", "int64_t", "extern", "C",
    ];
    let code = code(&header);
    let mut params = std::collections::HashSet::new();
    // Parameter names: the identifier before ',' or ')' inside a parameter list.
    for chunk in code.split(['(', ',']) {
        if let Some(before) = chunk.split(')').next()
            && let Some(last) = before
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next_back()
        {
            params.insert(last.to_owned());
        }
    }
    // Field names of the plain structs: the identifier before ';' inside `struct { ... }`.
    for body in code.split("struct {").skip(1) {
        let body = body.split('}').next().unwrap_or_default();
        for field in body.split(';') {
            if let Some(last) = field
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .rfind(|w| !w.is_empty())
            {
                params.insert(last.to_owned());
            }
        }
    }
    for word in code.split(|c: char| !c.is_alphanumeric() && c != '_') {
        if word.is_empty() || word.chars().next().unwrap().is_ascii_digit() {
            continue;
        }
        let ours = word.starts_with("midge_") || word.starts_with("MIDGE_");
        assert!(
            ours || c_words.contains(&word) || params.contains(word),
            "the header names {word:?}, which is not midge_-prefixed"
        );
    }
    // Declared functions and types themselves are all prefixed.
    for line in code.lines() {
        if let Some(name) = line
            .split('(')
            .next()
            .filter(|_| line.contains('(') && !line.starts_with(' '))
            .and_then(|d| d.split(|c: char| c == '*' || c.is_whitespace()).next_back())
            && !name.is_empty()
        {
            assert!(name.starts_with("midge_"), "function {name}");
        }
    }
}

fn define(header: &str, name: &str) -> u32 {
    header
        .lines()
        .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
        .unwrap_or_else(|| panic!("{name} is defined"))
        .trim()
        .parse()
        .unwrap()
}

// The library's own functions, declared as a C program's header would (the crate's `ffi`
// module is private).
unsafe extern "C" {
    safe fn midge_version() -> u32;
    safe fn midge_version_string() -> *const std::ffi::c_char;
}

#[test]
fn version_macros_match_the_crate_and_the_library() {
    let header = committed();
    let major = define(&header, "MIDGE_VERSION_MAJOR");
    let minor = define(&header, "MIDGE_VERSION_MINOR");
    let patch = define(&header, "MIDGE_VERSION_PATCH");
    assert_eq!(major.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(minor.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(patch.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
    let packed = define(&header, "MIDGE_VERSION_NUMBER");
    assert_eq!(packed, major << 16 | minor << 8 | patch);
    assert_eq!(midge_version(), packed);
    // SAFETY: a static NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(midge_version_string()) };
    assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn results_are_a_fixed_width_integer_with_named_constants() {
    // A C enum's width is the compiler's choice, and a value coming back from C through one
    // would be transmuted: midge_result is an int32_t, its values #defines.
    let header = committed();
    assert!(header.contains("typedef int32_t midge_result;"));
    assert!(
        !code(&header).contains("} midge_result;"),
        "midge_result must not be an enum"
    );
    assert_eq!(define(&header, "MIDGE_RESULT_OK"), 0);
    let values: Vec<u32> = header
        .lines()
        .filter_map(|l| l.strip_prefix("#define MIDGE_RESULT_"))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    let mut unique = values.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), values.len(), "each result value once");
}

#[test]
fn every_free_takes_the_address_of_the_caller_s_variable() {
    // The ownership model: `void midge_T_free(midge_T **)` empties the caller's variable.
    let code = code(&committed());
    let frees: Vec<&str> = code
        .lines()
        .filter(|l| l.contains("_free(") && l.starts_with("void midge_"))
        .collect();
    assert!(frees.len() >= 7, "{frees:?}");
    for f in frees {
        let ty = f
            .trim_start_matches("void ")
            .split("_free(")
            .next()
            .unwrap();
        assert!(
            f.contains(&format!("({ty} **")),
            "{f}: a _free takes the address of a variable"
        );
    }
}
