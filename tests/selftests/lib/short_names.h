/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-mem selftests: the short names test programs use for virtio-mem
 * requests, answers and block states, and for the tests' region (block
 * size, GPA, memslot ids).  For *_test.c files only: the library spells
 * everything out.
 */
#ifndef VMT_SHORT_NAMES_H
#define VMT_SHORT_NAMES_H

#include "req_util.h"

#define BLK		VMT_RQ_BLOCK
#define GPA		VMT_RQ_GPA
#define SLOT_BASE	VMT_RQ_SLOT_BASE
#define PAGE		4096ULL

#define PLUG		VIRTIO_MEM_REQ_PLUG
#define UNPLUG		VIRTIO_MEM_REQ_UNPLUG
#define UNPLUG_ALL	VIRTIO_MEM_REQ_UNPLUG_ALL
#define STATE		VIRTIO_MEM_REQ_STATE

#define ACK		VIRTIO_MEM_RESP_ACK
#define NACK		VIRTIO_MEM_RESP_NACK
#define BUSY		VIRTIO_MEM_RESP_BUSY
#define ERROR		VIRTIO_MEM_RESP_ERROR

#define PLUGGED		VIRTIO_MEM_STATE_PLUGGED
#define UNPLUGGED	VIRTIO_MEM_STATE_UNPLUGGED
#define MIXED		VIRTIO_MEM_STATE_MIXED

#endif /* VMT_SHORT_NAMES_H */
