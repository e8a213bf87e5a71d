/* SPDX-License-Identifier: BSD-3-Clause */
/* config.c - parse and check udk-nvmf-tgt's configuration lines:
 *   listen ADDR:PORT | malloc NAME MIB [BS] | null NAME MIB [BS] |
 *   file NAME PATH [BS] [ro] | nvme NAME BDF [NSID] | subsystem NQN, then for it: host NQN |
 *   allow-any-host | namespace BDEV [NSID] | serial S | model M */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "udk_pci.h"

#define MAX_WORDS 8

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t len, const char *where, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, len, "%s: ", where);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < len)
		vsnprintf(err + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool nqn_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 5 || n > NVMF_NQN_MAX || strncmp(s, "nqn.", 4))
		return false;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

static bool num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static int bdev_line(struct nvmf_config *cfg, char **w, int nw, const char *where, char *err, size_t el)
{
	struct nvmf_bdev_spec *b;
	uint64_t v;
	int i = 3;

	if (cfg->nbdevs == NVMF_MAX_BDEVS)
		return fail(err, el, where, "more than %d bdevs", NVMF_MAX_BDEVS);
	if (nw < 3)
		return fail(err, el, where, "'%s' needs a name and %s", w[0],
			    !strcmp(w[0], "file") ? "a path" : !strcmp(w[0], "nvme") ? "a PCI address" : "a size in MiB");
	if (!name_ok(w[1]))
		return fail(err, el, where, "bdev name '%s': use up to 63 letters, digits, '_', '-', '.'", w[1]);
	for (unsigned int k = 0; k < cfg->nbdevs; k++)
		if (!strcmp(cfg->bdevs[k].name, w[1]))
			return fail(err, el, where, "bdev '%s' is defined twice (first at %s)", w[1],
				    cfg->bdevs[k].where);
	b = &cfg->bdevs[cfg->nbdevs];
	memset(b, 0, sizeof(*b));
	snprintf(b->kind, sizeof(b->kind), "%s", w[0]);
	snprintf(b->name, sizeof(b->name), "%s", w[1]);
	snprintf(b->where, sizeof(b->where), "%s", where);
	if (!strcmp(w[0], "nvme")) {
		struct udk_pci_addr a;

		if (udk_pci_addr_parse(w[2], &a) < 0)
			return fail(err, el, where, "'%s' is not a PCI address (e.g. 0000:00:04.0)", w[2]);
		udk_pci_addr_format(&a, b->bdf, sizeof(b->bdf));
		b->nsid = 1;
		if (nw > 3 && (!num(w[3], 0xfffffffeu, &v) || v == 0))
			return fail(err, el, where, "NSID '%s': 1 or more", w[3]);
		if (nw > 3)
			b->nsid = (uint32_t)v;
		if (nw > 4)
			return fail(err, el, where, "unexpected '%s'", w[4]);
		cfg->nbdevs++;
		return 0;
	}
	if (!strcmp(w[0], "file")) {
		if (strlen(w[2]) >= sizeof(b->path))
			return fail(err, el, where, "path too long");
		snprintf(b->path, sizeof(b->path), "%s", w[2]);
	} else if (!num(w[2], 1u << 24, &b->mib) || b->mib == 0) {
		return fail(err, el, where, "size '%s': give MiB, 1 to 16777216", w[2]);
	}
	if (i < nw && isdigit((unsigned char)w[i][0])) {
		if (!num(w[i], 65536, &v) || v < 512 || (v & (v - 1)))
			return fail(err, el, where, "block size '%s': a power of two from 512 to 65536", w[i]);
		b->block_size = (uint32_t)v;
		i++;
	}
	if (i < nw && !strcmp(w[0], "file") && !strcmp(w[i], "ro")) {
		b->read_only = true;
		i++;
	}
	if (i < nw)
		return fail(err, el, where, "unexpected '%s'", w[i]);
	if (!b->block_size && strcmp(w[0], "file"))
		b->block_size = 512;
	cfg->nbdevs++;
	return 0;
}

static int listen_line(struct nvmf_tgt *t, const char *arg, const char *where, char *err, size_t el)
{
	struct nvmf_listener *l;
	const char *colon = strrchr(arg, ':');
	const char *a = arg;
	size_t alen;
	uint64_t port;

	if (colon == NULL || !num(colon + 1, 65535, &port) || port == 0)
		return fail(err, el, where, "listen '%s': give ADDR:PORT (e.g. 127.0.0.1:4420, [::1]:4420)", arg);
	alen = (size_t)(colon - arg);
	if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']')
		a++, alen -= 2;
	if (alen == 0 || alen >= sizeof(l->addr))
		return fail(err, el, where, "listen '%s': no address", arg);
	if (t->nlisten == NVMF_MAX_LISTEN)
		return fail(err, el, where, "more than %d listeners", NVMF_MAX_LISTEN);
	l = &t->listen[t->nlisten];
	memset(l, 0, sizeof(*l));
	memcpy(l->addr, a, alen);
	snprintf(l->port, sizeof(l->port), "%u", (unsigned int)port);
	l->fd = -1;
	l->portid = (uint16_t)(t->nlisten + 1);
	t->nlisten++;
	return 0;
}

int nvmf_config_line(struct nvmf_config *cfg, struct nvmf_tgt *t, const char *line, const char *where,
		     char *err, size_t el)
{
	char buf[1024], *w[MAX_WORDS], *p, *save = NULL;
	struct nvmf_subsys *ss = cfg->cur;
	int nw = 0;
	uint64_t v;

	if (strlen(line) >= sizeof(buf))
		return fail(err, el, where, "line longer than %zu bytes", sizeof(buf) - 1);
	snprintf(buf, sizeof(buf), "%s", line);
	if ((p = strchr(buf, '#')) != NULL)
		*p = '\0';
	for (p = strtok_r(buf, " \t\r\n", &save); p != NULL; p = strtok_r(NULL, " \t\r\n", &save)) {
		if (nw == MAX_WORDS)
			return fail(err, el, where, "too many words");
		w[nw++] = p;
	}
	if (nw == 0)
		return 0;
	if (!strcmp(w[0], "listen")) {
		if (nw != 2)
			return fail(err, el, where, "'listen ADDR:PORT'");
		return listen_line(t, w[1], where, err, el);
	}
	if (!strcmp(w[0], "malloc") || !strcmp(w[0], "null") || !strcmp(w[0], "file") || !strcmp(w[0], "nvme"))
		return bdev_line(cfg, w, nw, where, err, el);
	if (!strcmp(w[0], "subsystem")) {
		if (nw != 2 || !nqn_ok(w[1]))
			return fail(err, el, where, "'subsystem NQN': an NQN starts with 'nqn.' and has at most "
				    "223 printable bytes, e.g. nqn.2026-12.io.udk:disk1");
		if (!strcmp(w[1], NVMF_DISCOVERY_NQN))
			return fail(err, el, where, "%s is the discovery subsystem, which is always there",
				    NVMF_DISCOVERY_NQN);
		for (unsigned int i = 0; i < t->nsubsys; i++)
			if (!strcmp(t->subsys[i].nqn, w[1]))
				return fail(err, el, where, "subsystem %s is defined twice", w[1]);
		if (t->nsubsys == NVMF_MAX_SUBSYS - 1)
			return fail(err, el, where, "more than %d subsystems", NVMF_MAX_SUBSYS - 1);
		ss = cfg->cur = &t->subsys[t->nsubsys++];
		memset(ss, 0, sizeof(*ss));
		snprintf(ss->nqn, sizeof(ss->nqn), "%s", w[1]);
		snprintf(ss->serial, sizeof(ss->serial), "UDK%08X", t->nsubsys);
		snprintf(ss->model, sizeof(ss->model), "udk-nvmf-tgt");
		return 0;
	}
	if (ss == NULL)
		return fail(err, el, where, "'%s' before any 'subsystem NQN' line", w[0]);
	if (!strcmp(w[0], "host")) {
		if (nw != 2 || !nqn_ok(w[1]))
			return fail(err, el, where, "'host NQN' (the host's NQN: see /etc/nvme/hostnqn on it)");
		if (ss->nhosts == NVMF_MAX_HOSTS)
			return fail(err, el, where, "more than %d hosts", NVMF_MAX_HOSTS);
		snprintf(ss->hosts[ss->nhosts++], sizeof(ss->hosts[0]), "%s", w[1]);
		return 0;
	}
	if (!strcmp(w[0], "allow-any-host")) {
		if (nw != 1)
			return fail(err, el, where, "'allow-any-host' takes nothing");
		ss->allow_any = true;
		return 0;
	}
	if (!strcmp(w[0], "serial") || !strcmp(w[0], "model")) {
		size_t max = !strcmp(w[0], "serial") ? 20 : 40;

		if (nw != 2 || strlen(w[1]) > max)
			return fail(err, el, where, "'%s' takes one word of at most %zu characters", w[0], max);
		snprintf(!strcmp(w[0], "serial") ? ss->serial : ss->model, max + 1, "%s", w[1]);
		return 0;
	}
	if (!strcmp(w[0], "namespace")) {
		struct nvmf_ns *ns;

		if (nw < 2 || nw > 3)
			return fail(err, el, where, "'namespace BDEV [NSID]'");
		if (ss->nns == NVMF_MAX_NS)
			return fail(err, el, where, "more than %d namespaces in %s", NVMF_MAX_NS, ss->nqn);
		ns = &ss->ns[ss->nns];
		memset(ns, 0, sizeof(*ns));
		if (nw == 3) {
			if (!num(w[2], NVMF_MAX_NS, &v) || v == 0)
				return fail(err, el, where, "NSID '%s': 1 to %d", w[2], NVMF_MAX_NS);
		} else {
			v = 0;
			for (unsigned int i = 0; i < ss->nns; i++)
				if (ss->ns[i].nsid > v)
					v = ss->ns[i].nsid;
			if (++v > NVMF_MAX_NS)
				return fail(err, el, where, "no NSID left (1 to %d)", NVMF_MAX_NS);
		}
		for (unsigned int i = 0; i < ss->nns; i++)
			if (ss->ns[i].nsid == v)
				return fail(err, el, where, "NSID %u is taken in %s", (unsigned int)v, ss->nqn);
		if (!name_ok(w[1]))
			return fail(err, el, where, "bdev name '%s'", w[1]);
		ns->nsid = (uint32_t)v;
		snprintf(ns->bdev_name, sizeof(ns->bdev_name), "%s", w[1]);
		ss->nns++;
		return 0;
	}
	return fail(err, el, where, "unknown keyword '%s' (listen, malloc, null, file, nvme, subsystem, host, "
		    "allow-any-host, namespace, serial, model)", w[0]);
}

int nvmf_config_bdev_arg(struct nvmf_config *cfg, struct nvmf_tgt *t, const char *kind, const char *arg,
			 const char *where, char *err, size_t el)
{
	/* NAME:REST -> "KIND NAME REST..." with the colons as spaces; a file's
	 * path and an nvme's BDF keep theirs (an nvme's NSID follows a comma). */
	bool first_only = !strcmp(kind, "file") || !strcmp(kind, "nvme");
	char line[1100], *p;

	snprintf(line, sizeof(line), "%s %s", kind, arg);
	for (p = line; *p; p++)
		if ((*p == ':' && !first_only) || (*p == ',' && !strcmp(kind, "nvme")))
			*p = ' ';
	if (first_only && (p = strchr(line, ':')) != NULL)
		*p = ' ';
	return nvmf_config_line(cfg, t, line, where, err, el);
}

int nvmf_config_file(struct nvmf_config *cfg, struct nvmf_tgt *t, const char *path, char *err, size_t el)
{
	FILE *f = fopen(path, "r");
	char line[1100], where[300];
	int n = 0;

	if (f == NULL)
		return fail(err, el, path, "cannot open: %s", strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		snprintf(where, sizeof(where), "%s:%d", path, ++n);
		if (nvmf_config_line(cfg, t, line, where, err, el) < 0) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	cfg->cur = NULL;
	return 0;
}

int nvmf_config_finish(struct nvmf_config *cfg, struct nvmf_tgt *t, char *err, size_t el)
{
	char dummy[8];
	bool used[NVMF_MAX_BDEVS] = {false};

	if (t->nsubsys == 0)
		return fail(err, el, "configuration", "no subsystem: add 'subsystem NQN' and 'namespace BDEV' "
			    "lines (or --nqn with --malloc)");
	for (unsigned int s = 0; s < t->nsubsys; s++) {
		struct nvmf_subsys *ss = &t->subsys[s];

		if (!ss->allow_any && ss->nhosts == 0)
			return fail(err, el, ss->nqn, "no host may connect: add 'host NQN' lines or 'allow-any-host'");
		for (unsigned int i = 0; i < ss->nns; i++) {
			unsigned int k;

			for (k = 0; k < cfg->nbdevs; k++)
				if (!strcmp(cfg->bdevs[k].name, ss->ns[i].bdev_name))
					break;
			if (k == cfg->nbdevs)
				return fail(err, el, ss->nqn, "namespace %u names bdev '%s', which no line defines",
					    ss->ns[i].nsid, ss->ns[i].bdev_name);
			if (used[k])
				return fail(err, el, ss->nqn, "bdev '%s' serves two namespaces (one each)",
					    ss->ns[i].bdev_name);
			used[k] = true;
		}
	}
	if (t->nlisten == 0 && listen_line(t, "127.0.0.1:4420", "default", dummy, sizeof(dummy)) < 0)
		return -1;
	{
		struct nvmf_subsys *d = &t->subsys[t->nsubsys++];

		memset(d, 0, sizeof(*d));
		snprintf(d->nqn, sizeof(d->nqn), "%s", NVMF_DISCOVERY_NQN);
		d->discovery = true;
		d->allow_any = true;
		snprintf(d->serial, sizeof(d->serial), "UDKDISCOVERY");
		snprintf(d->model, sizeof(d->model), "udk-nvmf-tgt discovery");
	}
	return 0;
}

void nvmf_config_print(const struct nvmf_config *cfg, const struct nvmf_tgt *t, void *stream)
{
	FILE *f = stream;

	for (unsigned int i = 0; i < t->nlisten; i++)
		fprintf(f, "listen %s:%s\n", t->listen[i].addr, t->listen[i].port);
	for (unsigned int i = 0; i < cfg->nbdevs; i++) {
		const struct nvmf_bdev_spec *b = &cfg->bdevs[i];

		if (!strcmp(b->kind, "file"))
			fprintf(f, "bdev %s: file %s%s\n", b->name, b->path, b->read_only ? " (read-only)" : "");
		else if (!strcmp(b->kind, "nvme"))
			fprintf(f, "bdev %s: nvme %s namespace %u\n", b->name, b->bdf, b->nsid);
		else
			fprintf(f, "bdev %s: %s, %llu MiB, %u-byte blocks\n", b->name, b->kind,
				(unsigned long long)b->mib, b->block_size);
	}
	for (unsigned int s = 0; s < t->nsubsys; s++) {
		const struct nvmf_subsys *ss = &t->subsys[s];

		if (ss->discovery)
			continue;
		fprintf(f, "subsystem %s: %u namespace%s, %s\n", ss->nqn, ss->nns, ss->nns == 1 ? "" : "s",
			ss->allow_any ? "any host" : "hosts on its list");
		for (unsigned int i = 0; i < ss->nns; i++)
			fprintf(f, "  namespace %u: bdev %s\n", ss->ns[i].nsid, ss->ns[i].bdev_name);
		for (unsigned int i = 0; i < ss->nhosts; i++)
			fprintf(f, "  host %s\n", ss->hosts[i]);
	}
}
