/* symbols.h - naming code addresses of this process, off the fault path.
 *
 * "function+0xoff (object)" from the object's own symbol table (.symtab,
 * else .dynsym), read from its file, so static functions are named too, as
 * libunwind names them in SIGBUS reports. Opens and maps the file each
 * time: for reports and the stats file, not for anything frequent. */
#ifndef PAGESHIM_SYMBOLS_H
#define PAGESHIM_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

/* Name ip into out (always terminated). `ret` says ip is a return address
 * (every frame but the innermost): the call before it is named. */
void ps_symbol_name(uintptr_t ip, int ret, char *out, size_t len);

#endif
