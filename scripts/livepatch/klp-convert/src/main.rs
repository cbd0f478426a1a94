// SPDX-License-Identifier: GPL-2.0-only
//! klp-convert: placeholder entry point, replaced by the converter.

fn main() {
    eprintln!("klp-convert: not implemented yet");
    std::process::exit(1);
}
