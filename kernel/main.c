// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-mem: the virtio-mem device in the host kernel.
 *
 * /dev/vhost-mem: each open is one device.  This file holds the module,
 * the misc device and the ioctl switch; device.c does the work.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "device.h"
#include "netlink.h"

static int vhost_mem_open(struct inode *inode, struct file *f)
{
	struct vhost_mem *vmem = vhost_mem_create();

	if (IS_ERR(vmem))
		return PTR_ERR(vmem);
	f->private_data = vmem;
	return 0;
}

static int vhost_mem_release(struct inode *inode, struct file *f)
{
	vhost_mem_destroy(f->private_data);
	return 0;
}

/*
 * Our structs start with their size: accept older and newer callers, down
 * to min_size (the first version's fields that the ioctl cannot do
 * without) and up to a page, as openat2() and clone3() do.
 */
static int vhost_mem_get_arg_size(void __user *uarg, size_t min_size,
				  u32 *usize)
{
	if (get_user(*usize, (u32 __user *)uarg))
		return -EFAULT;
	if (*usize < min_size)
		return -EINVAL;
	if (*usize > PAGE_SIZE)
		return -E2BIG;
	return 0;
}

static int vhost_mem_copy_arg(void *karg, size_t ksize, size_t min_size,
			      void __user *uarg)
{
	u32 usize;
	int ret = vhost_mem_get_arg_size(uarg, min_size, &usize);

	return ret ?: copy_struct_from_user(karg, ksize, uarg, usize);
}

/* The size and flags words every extensible struct starts with. */
#define VHOST_MEM_ARG_MIN_SIZE		(sizeof(u32) * 2)

/* An int argument that must be 0 or 1. */
static int vhost_mem_get_switch(void __user *argp, bool *on)
{
	int val;

	if (copy_from_user(&val, argp, sizeof(val)))
		return -EFAULT;
	if (val != 0 && val != 1)
		return -EINVAL;
	*on = val;
	return 0;
}

static long vhost_mem_ioctl_set_vm(struct vhost_mem *vmem, void __user *argp)
{
	struct vhost_mem_vm arg;
	int ret = vhost_mem_copy_arg(&arg, sizeof(arg), VHOST_MEM_ARG_MIN_SIZE,
				     argp);

	return ret ?: vhost_mem_set_vm(vmem, &arg);
}

static long vhost_mem_ioctl_set_region(struct vhost_mem *vmem, void __user *argp)
{
	struct vhost_mem_region arg;
	int ret = vhost_mem_copy_arg(&arg, sizeof(arg), VHOST_MEM_ARG_MIN_SIZE,
				     argp);

	return ret ?: vhost_mem_set_region(vmem, &arg);
}

static long vhost_mem_ioctl_get_status(struct vhost_mem *vmem, void __user *argp)
{
	struct vhost_mem_status st = {};
	u32 usize;
	int ret;

	ret = vhost_mem_get_arg_size(argp, VHOST_MEM_ARG_MIN_SIZE, &usize);
	if (ret)
		return ret;
	ret = vhost_mem_get_status(vmem, &st);
	if (ret)
		return ret;
	st.size = min_t(u32, usize, sizeof(st));
	return copy_to_user(argp, &st, st.size) ? -EFAULT : 0;
}

static long vhost_mem_ioctl_state(struct vhost_mem *vmem, unsigned int ioctl,
				  void __user *argp)
{
	struct vhost_mem_state arg;
	void __user *buf;
	int ret;

	/* GET_STATE writes buf_len back: no struct may end before it. */
	ret = vhost_mem_copy_arg(&arg, sizeof(arg),
				 offsetofend(struct vhost_mem_state, buf_len),
				 argp);
	if (ret)
		return ret;
	if (arg.flags)
		return -EINVAL;
	buf = u64_to_user_ptr(arg.buf);
	if (ioctl == VHOST_MEM_SET_STATE)
		return vhost_mem_set_state(vmem, buf, arg.buf_len);
	ret = vhost_mem_get_state(vmem, buf, &arg.buf_len);
	/* The size is the answer, also when the room was too small. */
	if ((!ret || ret == -ENOSPC) &&
	    put_user(arg.buf_len, &((struct vhost_mem_state __user *)argp)->buf_len))
		return -EFAULT;
	return ret;
}

/* Everything that is not ours goes to the vhost core, as vhost-vsock does. */
static long vhost_mem_core_ioctl(struct vhost_mem *vmem, unsigned int ioctl,
				 void __user *argp)
{
	long ret;

	mutex_lock(&vmem->dev.mutex);
	ret = vhost_dev_ioctl(&vmem->dev, ioctl, argp);
	if (ret == -ENOIOCTLCMD)
		ret = vhost_vring_ioctl(&vmem->dev, ioctl, argp);
	if (!ret && ioctl == VHOST_SET_OWNER)
		vhost_mem_record_owner(vmem);
	mutex_unlock(&vmem->dev.mutex);
	return ret == -ENOIOCTLCMD ? -ENOTTY : ret;
}

/*
 * Our own ioctls, matched without the size bits of their numbers
 * (VHOST_MEM_IOC_KEY): the struct's size field tells its version, so a
 * caller built against an older or newer header reaches the same handler.
 */
static long vhost_mem_own_ioctl(struct vhost_mem *vmem, unsigned int key,
				void __user *argp)
{
	u64 size;
	bool on;
	int fd;

	switch (key) {
	case VHOST_MEM_IOC_KEY(VHOST_MEM_SET_VM):
		return vhost_mem_ioctl_set_vm(vmem, argp);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_SET_REGION):
		return vhost_mem_ioctl_set_region(vmem, argp);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_SET_REQUESTED_SIZE):
		if (copy_from_user(&size, argp, sizeof(size)))
			return -EFAULT;
		return vhost_mem_set_requested_size(vmem, size,
						    VHOST_MEM_ORIGIN_VMM);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_SET_RUNNING):
		return vhost_mem_get_switch(argp, &on) ?:
		       vhost_mem_set_running(vmem, on);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_GET_STATUS):
		return vhost_mem_ioctl_get_status(vmem, argp);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_SET_PAUSED):
		return vhost_mem_get_switch(argp, &on) ?:
		       vhost_mem_set_paused(vmem, on);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_GET_STATE):
		return vhost_mem_ioctl_state(vmem, VHOST_MEM_GET_STATE, argp);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_SET_STATE):
		return vhost_mem_ioctl_state(vmem, VHOST_MEM_SET_STATE, argp);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_RESET):
		return vhost_mem_reset(vmem);
	case VHOST_MEM_IOC_KEY(VHOST_MEM_SET_CONFIG_CALL):
		if (copy_from_user(&fd, argp, sizeof(fd)))
			return -EFAULT;
		return vhost_mem_set_config_call(vmem, fd);
	default:
		return -ENOTTY;
	}
}

static bool vhost_mem_is_own_ioctl(unsigned int ioctl)
{
	return _IOC_TYPE(ioctl) == VHOST_VIRTIO &&
	       _IOC_NR(ioctl) >= VHOST_MEM_IOC_NR_FIRST;
}

static long vhost_mem_ioctl(struct file *f, unsigned int ioctl,
			    unsigned long arg)
{
	struct vhost_mem *vmem = f->private_data;
	void __user *argp = (void __user *)arg;
	u64 features;

	if (vhost_mem_is_own_ioctl(ioctl))
		return vhost_mem_own_ioctl(vmem, VHOST_MEM_IOC_KEY(ioctl), argp);
	switch (ioctl) {
	case VHOST_GET_FEATURES:
		features = vhost_mem_get_features(vmem);
		return copy_to_user(argp, &features, sizeof(features)) ?
		       -EFAULT : 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&features, argp, sizeof(features)))
			return -EFAULT;
		return vhost_mem_set_features(vmem, features);
	case VHOST_RESET_OWNER:
		return vhost_mem_reset_owner(vmem);
	default:
		return vhost_mem_core_ioctl(vmem, ioctl, argp);
	}
}

/* /proc/PID/fdinfo/FD: the device's id, as the netlink family names it. */
static void vhost_mem_show_fdinfo(struct seq_file *m, struct file *f)
{
	struct vhost_mem *vmem = f->private_data;

	seq_printf(m, "vhost-mem-id:\t%d\n", vmem->id);
}

static const struct file_operations vhost_mem_fops = {
	.owner = THIS_MODULE,
	.open = vhost_mem_open,
	.release = vhost_mem_release,
	.unlocked_ioctl = vhost_mem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
	.show_fdinfo = vhost_mem_show_fdinfo,
};

static struct miscdevice vhost_mem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vhost-mem",
	.fops = &vhost_mem_fops,
	.mode = 0600,
};

static int __init vhost_mem_init(void)
{
	int ret = vhost_mem_nl_init();

	if (ret)
		return ret;
	ret = misc_register(&vhost_mem_misc);
	if (ret)
		vhost_mem_nl_exit();
	return ret;
}
module_init(vhost_mem_init);

static void __exit vhost_mem_exit(void)
{
	misc_deregister(&vhost_mem_misc);
	vhost_mem_nl_exit();
}
module_exit(vhost_mem_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Host kernel accelerator for virtio-mem");
