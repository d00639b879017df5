/* symbols.c - see symbols.h. */
#include "symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real.h"

/* The function of the ELF image (map, size) holding link-time address
 * `vaddr`: its name and offset, or NULL. */
static const char *find_function(const char *map, size_t size, uint64_t vaddr, uint64_t *off)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;
	if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > size)
		return NULL;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh->e_shoff);
	for (int want = SHT_SYMTAB; want; want = want == SHT_SYMTAB ? SHT_DYNSYM : 0) {
		for (unsigned i = 0; i < eh->e_shnum; i++) {
			if (sh[i].sh_type != (unsigned)want || sh[i].sh_link >= eh->e_shnum ||
			    sh[i].sh_offset + sh[i].sh_size > size)
				continue;
			const Elf64_Shdr *strs = &sh[sh[i].sh_link];
			const Elf64_Sym *sym = (const Elf64_Sym *)(map + sh[i].sh_offset);
			for (size_t k = 0; k < sh[i].sh_size / sizeof *sym; k++) {
				if (ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC || vaddr < sym[k].st_value ||
				    vaddr >= sym[k].st_value + sym[k].st_size || sym[k].st_name >= strs->sh_size ||
				    strs->sh_offset + strs->sh_size > size)
					continue;
				*off = vaddr - sym[k].st_value;
				return map + strs->sh_offset + sym[k].st_name;
			}
		}
	}
	return NULL;
}

/* The link-time address of the object's first byte: its lowest segment's
 * (0 for shared objects and PIE, 0x400000 for a classic executable). */
static uint64_t link_base(const char *map, size_t size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;
	if (eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size)
		return 0;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(map + eh->e_phoff);
	uint64_t low = UINT64_MAX;
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr - ph[i].p_offset < low)
			low = ph[i].p_vaddr - ph[i].p_offset;
	return low == UINT64_MAX ? 0 : low;
}

void ps_symbol_name(uintptr_t ip, int ret, char *out, size_t len)
{
	Dl_info dl;
	uintptr_t at = ip - (ret ? 1 : 0);
	if (!dladdr((void *)at, &dl) || !dl.dli_fname) {
		snprintf(out, len, "0x%lx", (unsigned long)ip);
		return;
	}
	const char *obj = strrchr(dl.dli_fname, '/') ? strrchr(dl.dli_fname, '/') + 1 : dl.dli_fname;
	int fd = open(dl.dli_fname, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);     /* the program, named relatively */
	struct stat st;
	const char *name = NULL;
	uint64_t off = 0;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
		char *map = real.mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map != MAP_FAILED) {
			uint64_t vaddr = at - (uintptr_t)dl.dli_fbase + link_base(map, (size_t)st.st_size);
			name = find_function(map, (size_t)st.st_size, vaddr, &off);
			if (name)
				snprintf(out, len, "%s+0x%llx (%s)", name, (unsigned long long)(off + (ip - at)), obj);
			real.munmap(map, (size_t)st.st_size);
		}
	}
	if (fd >= 0)
		close(fd);
	if (!name)
		snprintf(out, len, "0x%lx (%s)", (unsigned long)(ip - (uintptr_t)dl.dli_fbase), obj);
}
