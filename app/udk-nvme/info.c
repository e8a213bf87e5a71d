/* SPDX-License-Identifier: BSD-3-Clause */
/* info.c - udk-nvme's reports: identify (controller and namespaces),
 * smart-log and error-log, as text or JSON. */
#include <string.h>

#include "tool.h"
#include "udk_mem.h"
#include "udk_util.h"

static void oncs_words(uint16_t oncs, char *buf, size_t len)
{
	static const char *names[] = {"compare", "write uncorrectable", "dataset management",
				      "write zeroes", "save/select features", "reservations",
				      "timestamp", "verify"};
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < UDK_ARRAY_SIZE(names); i++)
		if (oncs & (1u << i) && off + 24 < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
						names[i]);
}

static void ns_text(const struct udk_nvme_ns_info *n)
{
	uint64_t bytes = n->nsze * n->block_size;

	printf("namespace %u\n", n->nsid);
	printf("  size        %llu blocks of %u bytes (%.1f MiB)\n", (unsigned long long)n->nsze,
	       n->block_size, (double)bytes / (1 << 20));
	printf("  capacity    %llu blocks\n", (unsigned long long)n->ncap);
	printf("  in use      %llu blocks\n", (unsigned long long)n->nuse);
	printf("  LBA format  %u of %u (metadata %u bytes)\n", n->flbas & 0xf, n->nlbaf + 1u,
	       n->ms);
}

static void ns_json(const struct udk_nvme_ns_info *n)
{
	printf("{\"nsid\":%u,\"blocks\":%llu,\"block_size\":%u,\"bytes\":%llu,\"capacity\":%llu,"
	       "\"used\":%llu,\"lba_format\":%u,\"lba_formats\":%u,\"metadata_size\":%u}",
	       n->nsid, (unsigned long long)n->nsze, n->block_size,
	       (unsigned long long)(n->nsze * n->block_size), (unsigned long long)n->ncap,
	       (unsigned long long)n->nuse, n->flbas & 0xf, n->nlbaf + 1u, n->ms);
}

int cmd_identify(struct tool *t)
{
	const struct udk_nvme_ctrlr_info *i = &t->info;
	uint32_t ids[1024], nb;
	struct udk_nvme_ns *ns;
	struct udk_nvme_ns_info ni;
	char oncs[160];

	if (t->o.nsid_set) {
		ids[0] = t->o.nsid;
		nb = 1;
		if (tool_ns(t, &ns, &ni))
			return 1;
	} else {
		nb = udk_nvme_ctrlr_active_ns(t->ctrlr, ids, UDK_ARRAY_SIZE(ids));
		if (nb > UDK_ARRAY_SIZE(ids))
			nb = UDK_ARRAY_SIZE(ids);
	}
	oncs_words(i->oncs, oncs, sizeof(oncs));
	if (t->o.json) {
		printf("{\"bdf\":");
		json_str(stdout, i->bdf);
		printf(",\"model\":");
		json_str(stdout, i->model);
		printf(",\"serial\":");
		json_str(stdout, i->serial);
		printf(",\"firmware\":");
		json_str(stdout, i->firmware);
		printf(",\"version\":\"%u.%u.%u\",\"vid\":%u,\"ssvid\":%u,\"cntlid\":%u,"
		       "\"cap\":\"0x%016llx\",\"timeout_ms\":%u,\"max_queue_size\":%u,"
		       "\"max_transfer\":%u,\"nn\":%u,\"io_queues\":%u,\"oncs\":%u,"
		       "\"volatile_write_cache\":%s,\"error_log_entries\":%u,\"namespaces\":[",
		       i->vs >> 16, (i->vs >> 8) & 0xff, i->vs & 0xff, i->vid, i->ssvid, i->cntlid,
		       (unsigned long long)i->cap, i->timeout_ms, i->max_qsize, i->max_xfer, i->nn,
		       i->nb_io_queues, i->oncs, i->vwc ? "true" : "false", i->elpe + 1u);
	} else {
		printf("controller %s\n", i->bdf);
		printf("  model       %s\n  serial      %s\n  firmware    %s\n", i->model,
		       i->serial, i->firmware);
		printf("  version     NVMe %u.%u.%u\n", i->vs >> 16, (i->vs >> 8) & 0xff,
		       i->vs & 0xff);
		printf("  PCI ids     vendor 0x%04x, subsystem vendor 0x%04x; controller id %u\n",
		       i->vid, i->ssvid, i->cntlid);
		printf("  limits      %u bytes per I/O, %u entries per queue, %u I/O queues, "
		       "ready timeout %u ms\n", i->max_xfer, i->max_qsize, i->nb_io_queues,
		       i->timeout_ms);
		printf("  namespaces  %u active of %u\n", i->nb_active_ns, i->nn);
		printf("  commands    %s\n", oncs[0] ? oncs : "(no optional NVM commands)");
		printf("  write cache %s\n", i->vwc ? "volatile, present" : "none");
	}
	for (uint32_t k = 0; k < nb; k++) {
		if (udk_nvme_ctrlr_ns(t->ctrlr, ids[k], &ns) < 0)
			continue;
		udk_nvme_ns_info(ns, &ni);
		if (t->o.json) {
			printf(k ? "," : "");
			ns_json(&ni);
		} else {
			ns_text(&ni);
		}
	}
	if (t->o.json)
		printf("]}\n");
	return 0;
}

/* A 128-bit little-endian counter, as a decimal string. */
static const char *u128(const uint8_t *v, char *buf, size_t len)
{
	uint8_t n[16];
	char tmp[48];
	size_t d = 0;
	bool zero;

	memcpy(n, v, 16);
	do { /* long division by 10, most significant byte first */
		unsigned int rem = 0;

		zero = true;
		for (int i = 15; i >= 0; i--) {
			unsigned int cur = rem << 8 | n[i];
			n[i] = (uint8_t)(cur / 10);
			rem = cur % 10;
			zero = zero && n[i] == 0;
		}
		tmp[d++] = (char)('0' + rem);
	} while (!zero && d < sizeof(tmp) - 1);
	for (size_t i = 0; i < d && i + 1 < len; i++)
		buf[i] = tmp[d - 1 - i];
	buf[d < len ? d : len - 1] = '\0';
	return buf;
}

int cmd_smart_log(struct tool *t)
{
	struct udk_nvme_smart_log *s = udk_mem_default_zmalloc(sizeof(*s), 4096, UDK_SOCKET_ANY);
	static const struct {
		const char *key, *label;
		size_t off;
	} ctr[] = {
		{"data_units_read", "data units read", offsetof(struct udk_nvme_smart_log, data_units_read)},
		{"data_units_written", "data units written", offsetof(struct udk_nvme_smart_log, data_units_written)},
		{"host_read_commands", "host read commands", offsetof(struct udk_nvme_smart_log, host_read_cmds)},
		{"host_write_commands", "host write commands", offsetof(struct udk_nvme_smart_log, host_write_cmds)},
		{"controller_busy_time", "controller busy (minutes)", offsetof(struct udk_nvme_smart_log, ctrl_busy_time)},
		{"power_cycles", "power cycles", offsetof(struct udk_nvme_smart_log, power_cycles)},
		{"power_on_hours", "power on hours", offsetof(struct udk_nvme_smart_log, power_on_hours)},
		{"unsafe_shutdowns", "unsafe shutdowns", offsetof(struct udk_nvme_smart_log, unsafe_shutdowns)},
		{"media_errors", "media errors", offsetof(struct udk_nvme_smart_log, media_errors)},
		{"num_err_log_entries", "error log entries", offsetof(struct udk_nvme_smart_log, num_err_log_entries)},
	};
	char num[48];

	if (s == NULL)
		return die("smart-log: no DMA memory: %s", udk_last_error());
	if (udk_nvme_ctrlr_get_log_page(t->ctrlr, UDK_NVME_LOG_SMART, 0xffffffff, s,
					sizeof(*s)) < 0) {
		udk_mem_default_free(s);
		return die("smart-log: %s", udk_last_error());
	}
	if (t->o.json)
		printf("{\"bdf\":\"%s\",\"critical_warning\":%u,\"temperature\":%u,"
		       "\"avail_spare\":%u,\"spare_thresh\":%u,"
		       "\"percent_used\":%u", t->info.bdf, s->critical_warning, s->temperature,
		       s->avail_spare, s->spare_thresh, s->percent_used);
	else
		printf("SMART / health log of %s\n  critical warning   0x%02x\n  temperature"
		       "        %u K (%d C)\n  available spare    %u%% (threshold %u%%)\n  "
		       "percentage used    %u%%\n", t->info.bdf, s->critical_warning,
		       s->temperature, (int)s->temperature - 273, s->avail_spare, s->spare_thresh,
		       s->percent_used);
	for (size_t i = 0; i < UDK_ARRAY_SIZE(ctr); i++) {
		u128((const uint8_t *)s + ctr[i].off, num, sizeof(num));
		if (t->o.json)
			printf(",\"%s\":%s", ctr[i].key, num);
		else
			printf("  %-18s %s\n", ctr[i].label, num);
	}
	if (t->o.json)
		printf("}\n");
	udk_mem_default_free(s);
	return 0;
}

int cmd_error_log(struct tool *t)
{
	uint32_t n = t->o.entries ? t->o.entries : t->info.elpe + 1u, shown = 0;
	struct udk_nvme_error_log *e;

	if (n > t->info.elpe + 1u)
		n = t->info.elpe + 1u;
	if (n > 64)
		n = 64; /* 4 KiB */
	e = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	if (e == NULL)
		return die("error-log: no DMA memory: %s", udk_last_error());
	if (udk_nvme_ctrlr_get_log_page(t->ctrlr, UDK_NVME_LOG_ERROR, 0xffffffff, e,
					n * sizeof(*e)) < 0) {
		udk_mem_default_free(e);
		return die("error-log: %s", udk_last_error());
	}
	if (t->o.json)
		printf("{\"bdf\":\"%s\",\"errors\":[", t->info.bdf);
	else
		printf("error log of %s (%u entries read)\n", t->info.bdf, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct udk_nvme_error_log *x = &e[i];
		uint16_t st = (uint16_t)(((x->status >> 1) & 0xff) | ((x->status >> 9) & 7) << 8);

		if (x->error_count == 0)
			continue;
		if (t->o.json)
			printf("%s{\"error_count\":%llu,\"sqid\":%u,\"cmdid\":%u,"
			       "\"status_field\":%u,\"phase_tag\":%u,\"parm_error_location\":%u,"
			       "\"lba\":%llu,\"nsid\":%u,\"vs\":%u,\"trtype\":%u,\"cs\":%llu,"
			       "\"trtype_spec_info\":%u,\"status_text\":\"%s\"}", shown ? "," : "",
			       (unsigned long long)x->error_count, x->sqid, x->cid, x->status >> 1,
			       x->status & 1u, x->param_error_location, (unsigned long long)x->lba,
			       x->nsid, x->vs, x->trtype, (unsigned long long)x->cmd_specific,
			       x->trtype_specific, udk_nvme_status_str(st));
		else
			printf("  #%llu: queue %u, command %u, %s, LBA %llu, namespace %u\n",
			       (unsigned long long)x->error_count, x->sqid, x->cid,
			       udk_nvme_status_str(st), (unsigned long long)x->lba, x->nsid);
		shown++;
	}
	if (t->o.json)
		printf("]}\n");
	else if (shown == 0)
		printf("  no errors logged\n");
	udk_mem_default_free(e);
	return 0;
}
