/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VHOST_MEM_VCPUS_H
#define VHOST_MEM_VCPUS_H

struct kvm;
struct vhost_mem_vcpus_stop;

/*
 * Every vCPU of the VM out of guest mode and held there until
 * vhost_mem_vcpus_resume(): an ERR_PTR if that takes too long.
 */
struct vhost_mem_vcpus_stop *vhost_mem_vcpus_stop(struct kvm *kvm);
void vhost_mem_vcpus_resume(struct vhost_mem_vcpus_stop *stop);

#endif /* VHOST_MEM_VCPUS_H */
