/* SPDX-License-Identifier: BSD-3-Clause */
/* io.c - the NVM command set's I/O commands (NVMe NVM command set 1.0 §3):
 * Read, Write, Flush, Write Zeroes and Dataset Management (deallocate),
 * each onto the namespace's bdev channel; a full channel parks the command
 * until the next poll. */
#include <errno.h>
#include <string.h>

#include "nvmf.h"
#include "udk_bdev.h"
#include "udk_telemetry.h"
#include "udk_util.h"

#define IO_FLUSH 0x00
#define IO_WRITE 0x01
#define IO_READ 0x02
#define IO_WRITE_ZEROES 0x08
#define IO_DSM 0x09

#define DSM_AD (1u << 2)
#define DSM_RANGE 16 /* context attributes, length in blocks, starting LBA */

struct nvmf_ns *nvmf_ns_find(struct nvmf_subsys *ss, uint32_t nsid)
{
	unsigned int n = __atomic_load_n(&ss->nns, __ATOMIC_ACQUIRE);

	/* The state first: the other fields are group 0's to change until it
	 * stores NS_ACTIVE, and stay as they are while it is. */
	for (unsigned int i = 0; i < n; i++)
		if (atomic_load_explicit(&ss->ns[i].state, memory_order_acquire) == NS_ACTIVE &&
		    ss->ns[i].nsid == nsid)
			return &ss->ns[i];
	return NULL;
}

/* The calling group's channel on ns (NULL if it could not get one). */
static struct udk_bdev_channel *ns_ch(struct nvmf_conn *c, const struct nvmf_ns *ns)
{
	return c->pg->ch[c->ss - c->tgt->subsys][ns - c->ss->ns];
}

static uint16_t status_of(int rc, bool write)
{
	switch (rc) {
	case 0: return NVMF_SC_SUCCESS;
	case -ERANGE: return NVMF_SC_LBA_RANGE;
	case -E2BIG: return NVMF_SC_SGL_DATA_LEN;
	case -EINVAL: return NVMF_SC_INVALID_FIELD;
	case -ENOTSUP: return NVMF_SC_INVALID_OPCODE;
	case -EROFS: return NVMF_SC_WRITE_PROTECTED;
	case -UDK_EREMOVED: return NVMF_SC_INVALID_NS;
	case -EIO: return write ? NVMF_SC(2, 0x80) : NVMF_SC(2, 0x81); /* write fault, unrecovered read */
	default: return NVMF_SC_INTERNAL;
	}
}

static void io_done(void *arg, int status)
{
	struct nvmf_cmd *cmd = arg;
	struct nvmf_conn *c = cmd->conn;
	struct nvmf_stats *t = &c->pg->stats;

	if (status && !cmd->status)
		cmd->status = status_of(status, cmd->sqe.opc == IO_WRITE);
	if (--cmd->pending)
		return;
	if (cmd->status == NVMF_SC_SUCCESS) {
		struct nvmf_subsys_stats *ss = c->ss ? nvmf_ss_stats(c->pg, c->tgt, c->ss) : NULL;

		udk_counter_add(&t->ios, 1);
		if (ss != NULL)
			udk_counter_add(&ss->ios, 1);
		if (cmd->sqe.opc == IO_READ) {
			udk_counter_add(&t->bytes_read, cmd->xfer.len);
			cmd->data_out = cmd->xfer.len;
			if (ss != NULL) {
				udk_counter_add(&ss->reads, 1);
				udk_counter_add(&ss->bytes_read, cmd->xfer.len);
			}
		} else if (cmd->sqe.opc == IO_WRITE) {
			udk_counter_add(&t->bytes_written, cmd->xfer.len);
			if (ss != NULL) {
				udk_counter_add(&ss->writes, 1);
				udk_counter_add(&ss->bytes_written, cmd->xfer.len);
			}
		}
	}
	nvmf_cmd_complete(cmd, cmd->status);
}

/* Submit; false when the channel is full and the command waits for the next poll. */
static bool submit(struct nvmf_cmd *cmd, int rc)
{
	if (rc == -EAGAIN) {
		struct nvmf_conn *c = cmd->conn;

		cmd->pending--;
		cmd->state = CMD_RETRY;
		cmd->next_retry = c->retry;
		c->retry = cmd;
		return false;
	}
	if (rc < 0) {
		if (!cmd->status)
			cmd->status = status_of(rc, cmd->sqe.opc == IO_WRITE);
		cmd->pending--;
		if (cmd->pending == 0)
			nvmf_cmd_complete(cmd, cmd->status);
	}
	return true;
}

static void dsm(struct nvmf_cmd *cmd, struct nvmf_ns *ns)
{
	uint32_t nr = (cmd->sqe.cdw10 & 0xff) + 1;

	if (!(cmd->sqe.cdw11 & DSM_AD)) {
		nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS); /* hints only: nothing to do */
		return;
	}
	if (!ns->dealloc) {
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_OPCODE);
		return;
	}
	if (cmd->xfer.len < nr * DSM_RANGE) {
		nvmf_cmd_complete(cmd, NVMF_SC_SGL_DATA_LEN);
		return;
	}
	/* One deallocate per range; the command completes with the last.  A
	 * range that does not fit fails the command before anything is sent. */
	for (uint32_t i = 0; i < nr; i++) {
		uint32_t len;
		uint64_t slba;

		memcpy(&len, cmd->buf + i * DSM_RANGE + 4, 4);
		memcpy(&slba, cmd->buf + i * DSM_RANGE + 8, 8);
		if (slba > ns->num_blocks || len > ns->num_blocks - slba) {
			nvmf_cmd_complete(cmd, NVMF_SC_LBA_RANGE);
			return;
		}
	}
	cmd->pending = 1; /* held until every range is submitted */
	for (uint32_t i = 0; i < nr; i++) {
		uint32_t len;
		uint64_t slba;
		int rc;

		memcpy(&len, cmd->buf + i * DSM_RANGE + 4, 4);
		memcpy(&slba, cmd->buf + i * DSM_RANGE + 8, 8);
		if (len == 0)
			continue;
		cmd->pending++;
		rc = udk_bdev_deallocate(ns_ch(cmd->conn, ns), slba, len, io_done, cmd);
		if (rc == -EAGAIN)
			rc = -EBUSY; /* a retry would deallocate the earlier ranges twice: harmless, but keep it simple */
		submit(cmd, rc);
	}
	io_done(cmd, 0);
}

void nvmf_io_exec(struct nvmf_cmd *cmd)
{
	struct nvmf_ns *ns = nvmf_ns_find(cmd->conn->ss, cmd->sqe.nsid);
	uint64_t slba = cmd->sqe.cdw10 | (uint64_t)cmd->sqe.cdw11 << 32;
	uint32_t nlb = (cmd->sqe.cdw12 & 0xffff) + 1;
	struct udk_bdev_channel *ch;
	int rc;

	if (ns == NULL || (ch = ns_ch(cmd->conn, ns)) == NULL) {
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_NS);
		return;
	}
	cmd->state = CMD_EXEC;
	cmd->pending = 1;
	cmd->status = 0;
	switch (cmd->sqe.opc) {
	case IO_READ:
	case IO_WRITE:
		if ((uint64_t)nlb * ns->block_size != cmd->xfer.len) {
			cmd->pending = 0;
			nvmf_cmd_complete(cmd, NVMF_SC_SGL_DATA_LEN);
			return;
		}
		if (cmd->sqe.opc == IO_READ)
			rc = udk_bdev_read(ch, cmd->buf, slba, nlb, io_done, cmd);
		else
			rc = udk_bdev_write(ch, cmd->buf, slba, nlb, io_done, cmd);
		break;
	case IO_FLUSH:
		rc = ns->flush ? udk_bdev_flush(ch, io_done, cmd) : 0;
		if (!ns->flush) {
			cmd->pending = 0;
			nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
			return;
		}
		break;
	case IO_WRITE_ZEROES:
		rc = udk_bdev_write_zeroes(ch, slba, nlb, io_done, cmd);
		break;
	case IO_DSM:
		cmd->pending = 0;
		dsm(cmd, ns);
		return;
	default:
		cmd->pending = 0;
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_OPCODE);
		return;
	}
	submit(cmd, rc);
}

bool nvmf_poll_bdevs(struct nvmf_pg *pg)
{
	struct nvmf_tgt *t = pg->tgt;
	bool inflight = false;

	for (unsigned int s = 0; s < t->nsubsys; s++)
		for (unsigned int i = 0; i < NVMF_MAX_NS; i++)
			if (pg->ch[s][i] != NULL) {
				udk_bdev_channel_poll(pg->ch[s][i], 0);
				inflight |= udk_bdev_channel_outstanding(pg->ch[s][i]) != 0;
			}
	for (struct nvmf_conn *c = pg->conns; c != NULL; c = c->next)
		if (c->retry != NULL && c->state != CONN_CLOSING)
			nvmf_conn_retry(c);
	return inflight;
}
