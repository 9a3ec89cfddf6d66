/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VHOST_MEM_MEMSLOT_H
#define VHOST_MEM_MEMSLOT_H

#include <linux/types.h>

struct file;
struct kvm;
struct mm_struct;
struct mem_cgroup;

/* What the module created at one id: size 0 while the id is not live. */
struct vhost_mem_memslot_record {
	u64 gpa, size, hva;
};

/*
 * The KVM memslots of one device, from ids base to base + count - 1: which
 * id maps what is the device's layout (layout.h): a chunk, or a run of
 * plugged blocks.
 *
 * The records, not KVM, say where a live memslot lies: the VMM can move,
 * replace or delete a memslot behind our back, so KVM's copy is only ever
 * compared with the record, and one that differs is no longer ours.
 *
 * Everything that creates or deletes a memslot (init, add, remove, get,
 * at, delete_all) runs in a task of the VMM's mm: KVM refuses its ioctl
 * from any other.  Callers serialise them (vq.mutex, or a stopped queue).
 */
struct vhost_mem_memslots {
	int dev_id;		/* the device's, for its messages */
	struct kvm *kvm;
	struct file *vm_file;	/* its ioctl creates and deletes them */
	void __user *scratch;	/* a page in the VMM's mm for that ioctl's struct */
	u64 gpa, size;		/* the device region */
	u32 base;		/* first memslot id the VMM reserved for us */
	u32 count;		/* ids reserved */
	u32 live;		/* memslots that exist now */
	bool smm;		/* each also in KVM's SMM address space */
	struct mem_cgroup *memcg;	/* the VMM's: KVM's metadata is charged there */
	unsigned long *mapped;	/* bit i: id base + i is live */
	struct vhost_mem_memslot_record *records;	/* count of them */
};

int vhost_mem_memslots_init(struct vhost_mem_memslots *s, int dev_id,
			    struct file *vm_file, struct mm_struct *owner,
			    u32 base, u32 count, u64 gpa, u64 size, bool smm);
void vhost_mem_memslots_delete_all(struct vhost_mem_memslots *s);
void vhost_mem_memslots_destroy(struct vhost_mem_memslots *s);
int vhost_mem_memslot_add(struct vhost_mem_memslots *s, u32 index,
			  u64 gpa, u64 size, u64 hva);
int vhost_mem_memslot_remove(struct vhost_mem_memslots *s, u32 index);
bool vhost_mem_memslot_is_live(const struct vhost_mem_memslots *s, u32 index);

/* One of our live memslots, from its record, checked against KVM's. */
struct vhost_mem_memslot {
	u32 index;
	u64 gpa, size;
};

bool vhost_mem_memslot_at(struct vhost_mem_memslots *s, u64 gpa,
			  struct vhost_mem_memslot *slot);
bool vhost_mem_memslot_get(struct vhost_mem_memslots *s, u32 index,
			   struct vhost_mem_memslot *slot);
int vhost_mem_memslot_free_index(struct vhost_mem_memslots *s);

#endif /* VHOST_MEM_MEMSLOT_H */
