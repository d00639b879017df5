/* inject.h - faults injected into pageshim's reads of files
 * (PAGESHIM_INJECT), so that the error paths of the program and of pageshim
 * can be exercised at will: retries, SIGBUS and its report, checksum
 * mismatches, slow faults.
 *
 * Each rule has a kind (eio, short, delay:MS, corrupt), a file glob, a file
 * byte range, and a trigger: a probability, drawn from the rule's own
 * generator seeded with its seed (so a run repeats when the reads come in
 * the same order), or every Nth read that matches. A read matches a rule
 * when its file's path matches the glob and the read overlaps the range.
 * Rules are checked in order for each read call; several may fire. */
#ifndef PAGESHIM_INJECT_H
#define PAGESHIM_INJECT_H

#include <stddef.h>
#include <stdint.h>

struct ps_file;

/* Before a read of [off, off+*len) of f: delay rules that fire sleep, a
 * short rule that fires halves *len (whole pages, reads of one page are
 * left alone). Returns -EIO when an eio rule fires (no read is made), else
 * 0. Nothing to do, and no cost but a test, without PAGESHIM_INJECT. */
int ps_inject_before(const struct ps_file *f, uint64_t off, size_t *len);
/* After a read of `got` bytes at off into buf: a corrupt rule that fires
 * flips one byte of each page read. */
void ps_inject_after(const struct ps_file *f, void *buf, size_t got, uint64_t off);

#endif
