/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels vhost-mem supports (6.1 and 6.12
 * LTS, and 7.3) lives here, so that the rest of the module reads as one
 * version.
 * Memslots need none: memslot.c makes them with the VM file's own
 * KVM_SET_USER_MEMORY_REGION ioctl, the same on every kernel.
 */
#ifndef VHOST_MEM_COMPAT_H
#define VHOST_MEM_COMPAT_H

#include <linux/version.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/eventfd.h>
#include <linux/virtio_mem.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "vhost.h"

/* After 6.12, cpuid_eax() moved out of <asm/processor.h> (7.3: here). */
#if __has_include("asm/cpuid/api.h")
#include <asm/cpuid/api.h>
#endif

/* 6.5 moved vhost work queueing from the device to a virtqueue's worker. */
static inline bool vhost_mem_queue_work(struct vhost_virtqueue *vq,
					struct vhost_work *work)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return vhost_vq_work_queue(vq, work);
#else
	vhost_work_queue(vq->dev, work);
	return vhost_dev_has_owner(vq->dev);
#endif
}

/*
 * Whether f, a file named "kvm-vm", has KVM's kvm_vm_fops: 0, -EINVAL, or
 * -EOPNOTSUPP when that cannot be told.  On 6.12 and 7.3, kvm_init() sets
 * their owner to the module that called it, the vendor module (kvm_intel
 * or kvm_amd; kvm accepted too); only KVM's code has those module names,
 * and the open file pins the owner.  A KVM built into the kernel has no
 * owner to prove it.  6.1's kvm_vm_fops have no owner, but 6.1 exports
 * file_is_kvm() to any module (the 6.7 cut between them is not checked).
 */
static inline int vhost_mem_kvm_vm_fops(struct file *f)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	static const char * const owners[] = { "kvm_intel", "kvm_amd", "kvm" };
	struct module *owner = f->f_op->owner;

	if (!owner)
		return -EOPNOTSUPP;
	if (match_string(owners, ARRAY_SIZE(owners), module_name(owner)) < 0)
		return -EINVAL;
	return 0;
#else
	return file_is_kvm(f) ? 0 : -EINVAL;
#endif
}

/* Address spaces that hold memslots (x86: the second one is SMM). */
static inline int vhost_mem_kvm_nr_as(struct kvm *kvm)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return kvm_arch_nr_memslot_as_ids(kvm);
#else
	return KVM_ADDRESS_SPACE_NUM;
#endif
}

/*
 * 6.3 removed zap_page_range() and exported zap_page_range_single(); 7.x
 * renamed that zap_vma_range(), without the details (7.3 has only it; the
 * release of the rename is not checked, only that 6.12 lacks it).
 */
static inline void vhost_mem_zap_range(struct vm_area_struct *vma,
				       unsigned long start, unsigned long size)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	zap_vma_range(vma, start, size);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	zap_page_range_single(vma, start, size, NULL);
#else
	zap_page_range(vma, start, size);
#endif
}

/* 6.5 dropped the vmas argument of get_user_pages_remote(). */
static inline long vhost_mem_gup_remote(struct mm_struct *mm,
					unsigned long start,
					unsigned long nr_pages, int *locked)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return get_user_pages_remote(mm, start, nr_pages, FOLL_WRITE, NULL,
				     locked);
#else
	return get_user_pages_remote(mm, start, nr_pages, FOLL_WRITE, NULL,
				     NULL, locked);
#endif
}

/* 6.8 dropped the counter argument of eventfd_signal(). */
static inline void vhost_mem_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * 6.7 added the variable-width integers of the netlink spec's "uint": 4
 * bytes when the value fits, else 8.  Older kernels validate a request's
 * uint attribute (netlink-gen.c's NLA_UINT) as binary that must be 4 or 8
 * bytes long, with EINVAL otherwise, as 6.7's NLA_UINT does.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
static inline int vhost_mem_nla_validate_uint(const struct nlattr *attr,
					      struct netlink_ext_ack *extack)
{
	if (nla_len(attr) == sizeof(u32) || nla_len(attr) == sizeof(u64))
		return 0;
	NL_SET_ERR_MSG_ATTR(extack, attr, "invalid attribute length");
	return -EINVAL;
}

#define NLA_UINT	NLA_BINARY,					\
			.validation_type = NLA_VALIDATE_FUNCTION,	\
			.validate = vhost_mem_nla_validate_uint

static inline u64 nla_get_uint(const struct nlattr *nla)
{
	if (nla_len(nla) == sizeof(u32))
		return nla_get_u32(nla);
	return nla_get_u64(nla);
}

static inline int nla_put_uint(struct sk_buff *skb, int attrtype, u64 value)
{
	u64 tmp64 = value;
	u32 tmp32 = value;

	if (tmp64 == tmp32)
		return nla_put_u32(skb, attrtype, tmp32);
	return nla_put(skb, attrtype, sizeof(tmp64), &tmp64);
}
#endif

/*
 * 6.2 added split ops: one entry for the do and one for the dump of a
 * command, as netlink-gen.c (scripts/ynl-gen.sh) declares them.  Before,
 * a family has one genl_ops per command, which these merge the split ops
 * into at registration (the policy is the do's; the GENL_CMD_CAP_* flags
 * only tell what the entry has, as 6.1's genl_ctrl reports anyway).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define genl_split_ops		genl_ops
#define split_ops		ops
#define n_split_ops		n_ops

static inline int vhost_mem_genl_register_family(struct genl_family *family)
{
	const struct genl_ops *op;
	struct genl_ops *ops, *m;
	int i, n = 0, ret;

	ops = kcalloc(family->n_ops, sizeof(*ops), GFP_KERNEL);
	if (!ops)
		return -ENOMEM;
	for (i = 0; i < family->n_ops; i++) {
		op = &family->ops[i];
		for (m = ops; m < ops + n && m->cmd != op->cmd; m++)
			;
		if (m == ops + n) {
			*m = *op;
			n++;
			continue;
		}
		m->flags |= op->flags;
		if (op->doit) {
			m->doit = op->doit;
			m->policy = op->policy;
			m->maxattr = op->maxattr;
		} else {
			m->start = op->start;
			m->dumpit = op->dumpit;
			m->done = op->done;
		}
	}
	family->ops = ops;
	family->n_ops = n;
	ret = genl_register_family(family);
	if (ret)
		kfree(ops);
	return ret;
}

static inline void vhost_mem_genl_unregister_family(struct genl_family *family)
{
	genl_unregister_family(family);
	kfree(family->ops);
}
#else
static inline int vhost_mem_genl_register_family(struct genl_family *family)
{
	return genl_register_family(family);
}

static inline void vhost_mem_genl_unregister_family(struct genl_family *family)
{
	genl_unregister_family(family);
}
#endif

/* Only in the 6.12 uapi; the bit is the spec's. */
#ifndef VIRTIO_MEM_F_PERSISTENT_SUSPEND
#define VIRTIO_MEM_F_PERSISTENT_SUSPEND	2
#endif

#endif /* VHOST_MEM_COMPAT_H */
