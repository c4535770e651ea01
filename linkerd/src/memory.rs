//! Giving back the memory of code only startup ran.
//!
//! Most of linkerd's machine code is configuration decoding, plugin registries and the
//! command line, which run once. Linux keeps every code page a process has touched (and
//! its neighbours, which it maps ahead) resident and counted in its RSS, so a sidecar
//! would carry several MiB of startup code for its whole life. Once everything has
//! started, [`release_startup_code`] asks the kernel to drop the executable's read-only
//! code pages from the process; the few that serving needs come back on first use, from the
//! page cache, and only those stay.
//!
//! This is the one place in the workspace with `unsafe` code: `madvise(MADV_DONTNEED)`
//! on our own executable's code mappings, which are never written, so no data can be lost
//! (a private, never-written file mapping reads back the same bytes from the file).

#![allow(unsafe_code)]

/// A mapping of the executable from `/proc/self/maps`: its address range.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
}

/// The executable's code mappings in `maps` (the text of `/proc/self/maps`): private,
/// readable and executable, never writable. Read-only data mappings are left alone: the
/// dynamic loader writes relocations into some of them (RELRO) before making them
/// read-only, and dropping those pages would bring back the unrelocated bytes.
fn code_mappings(maps: &str, exe: &str) -> Vec<Mapping> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?.as_bytes();
            let path = fields.nth(3)?;
            if path != exe || perms != b"r-xp" {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some(Mapping {
                start: usize::from_str_radix(start, 16).ok()?,
                end: usize::from_str_radix(end, 16).ok()?,
            })
        })
        .collect()
}

/// Drops the executable's code pages from the process (they fault back in as used);
/// returns how many bytes of mappings were advised, 0 where this is not possible.
pub fn release_startup_code() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return 0;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut released = 0;
    for m in code_mappings(&maps, &exe.to_string_lossy()) {
        let len = m.end - m.start;
        // SAFETY: the range is a whole, page-aligned, private code mapping of our own
        // executable (from /proc/self/maps), never written (no text relocations in a
        // PIE); MADV_DONTNEED on it only unmaps its pages, which the next access maps
        // again with the same contents from the file.
        let rc = unsafe { libc::madvise(m.start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if rc == 0 {
            released += len;
        }
    }
    released
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_code_mappings_are_chosen() {
        let maps = "\
55a608e5f000-55a608f50000 r--p 00000000 fd:01 123 /opt/l5d/linkerd
55a608f50000-55a60936a000 r-xp 000f1000 fd:01 123 /opt/l5d/linkerd
55a60936a000-55a609380000 rw-p 0050b000 fd:01 123 /opt/l5d/linkerd
55a609380000-55a609390000 r--s 0050b000 fd:01 123 /opt/l5d/linkerd
7f1386ca0000-7f1386df6000 r-xp 00026000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
55a6108c6000-55a610cd4000 rw-p 00000000 00:00 0 [heap]
";
        assert_eq!(
            code_mappings(maps, "/opt/l5d/linkerd"),
            [Mapping {
                start: 0x55a6_08f5_0000,
                end: 0x55a6_0936_a000
            }]
        );
    }

    #[test]
    fn releasing_leaves_the_code_working() {
        assert!(
            release_startup_code() > 0,
            "the test binary has code mappings"
        );
        // Code and constants used after the release come back intact.
        let text: String = ["for", "ty", "-", "two"].concat();
        assert_eq!(text, "forty-two");
        assert_eq!(
            format!("{:?}", Mapping { start: 1, end: 2 }),
            "Mapping { start: 1, end: 2 }"
        );
    }
}
