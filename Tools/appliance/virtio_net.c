/* Switchboard guest appliance: the virtio-net driver over virtio-mmio version 2 (modern only).
 * Two split virtqueues (0 = receive, 1 = transmit) in static memory, polled; no interrupts. */
#include "appliance.h"

/* virtio-mmio registers (virtio 1.2, section 4.2.2) */
#define VM_MAGIC 0x000
#define VM_VERSION 0x004
#define VM_DEVICE_ID 0x008
#define VM_DEVICE_FEATURES 0x010
#define VM_DEVICE_FEATURES_SEL 0x014
#define VM_DRIVER_FEATURES 0x020
#define VM_DRIVER_FEATURES_SEL 0x024
#define VM_QUEUE_SEL 0x030
#define VM_QUEUE_NUM_MAX 0x034
#define VM_QUEUE_NUM 0x038
#define VM_QUEUE_READY 0x044
#define VM_QUEUE_NOTIFY 0x050
#define VM_STATUS 0x070
#define VM_QUEUE_DESC_LOW 0x080
#define VM_QUEUE_DESC_HIGH 0x084
#define VM_QUEUE_DRIVER_LOW 0x090
#define VM_QUEUE_DRIVER_HIGH 0x094
#define VM_QUEUE_DEVICE_LOW 0x0a0
#define VM_QUEUE_DEVICE_HIGH 0x0a4
#define VM_CONFIG_GENERATION 0x0fc
#define VM_CONFIG 0x100

#define VIRTIO_MAGIC 0x74726976U
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_FAILED 128

#define NET_F_MAC (1U << 5)          /* feature word 0 */
#define F_VERSION_1_HIGH (1U << 0)   /* bit 32: feature word 1 */

#define DESC_F_WRITE 2
#define USED_F_NO_NOTIFY 1
#define QMAX 32
#define NET_HDR_LEN 12
#define BUF_SIZE 2048

struct vq_desc { uint64_t addr; uint32_t len; uint16_t flags; uint16_t next; };
struct vq_avail { uint16_t flags; uint16_t idx; uint16_t ring[QMAX]; uint16_t used_event; };
struct vq_used_elem { uint32_t id; uint32_t len; };
struct vq_used { uint16_t flags; uint16_t idx; struct vq_used_elem ring[QMAX]; uint16_t avail_event; };

struct vq {
    struct vq_desc desc[QMAX] __attribute__((aligned(16)));
    struct vq_avail avail __attribute__((aligned(4)));
    struct vq_used used __attribute__((aligned(4096)));
    uint16_t num;       /* negotiated size (power of two, <= QMAX) */
    uint16_t avail_idx; /* our next avail index */
    uint16_t last_used; /* next used index we have not consumed */
    uint16_t nfree;     /* TX: free descriptors */
    uint16_t free_list[QMAX];
};

static struct vq rxq __attribute__((aligned(4096)));
static struct vq txq __attribute__((aligned(4096)));
static uint8_t rx_buf[QMAX][BUF_SIZE] __attribute__((aligned(64)));
static uint8_t tx_buf[QMAX][BUF_SIZE] __attribute__((aligned(64)));
static uintptr_t dev;
static int tx_pending = -1; /* descriptor reserved by nic_tx_alloc */

nic_info nic;

static uint32_t rd(uint32_t off) { return mmio_read32(dev + off); }
static void wr(uint32_t off, uint32_t v) { mmio_write32(dev + off, v); }

/* Notifies the device about new avail entries unless it said it is already looking (the
 * used ring's NO_NOTIFY flag, read after the index update and a fence). Saves an MMIO exit
 * per frame while the device is busy. */
static void notify(struct vq *q, uint32_t index) {
    fence_all();
    if (!(*(volatile uint16_t *)&q->used.flags & USED_F_NO_NOTIFY)) wr(VM_QUEUE_NOTIFY, index);
}

static int setup_queue(uint32_t index, struct vq *q) {
    wr(VM_QUEUE_SEL, index);
    if (rd(VM_QUEUE_READY) != 0) {
        kprintf("appliance: virtio-net queue %u already in use\n", index);
        return -1;
    }
    uint32_t max = rd(VM_QUEUE_NUM_MAX);
    if (max == 0) {
        kprintf("appliance: virtio-net queue %u not available\n", index);
        return -1;
    }
    uint32_t num = QMAX;
    while (num > max) num >>= 1;
    q->num = (uint16_t)num;
    wr(VM_QUEUE_NUM, num);
    uint64_t d = (uintptr_t)q->desc, a = (uintptr_t)&q->avail, u = (uintptr_t)&q->used;
    wr(VM_QUEUE_DESC_LOW, (uint32_t)d);
    wr(VM_QUEUE_DESC_HIGH, (uint32_t)(d >> 32));
    wr(VM_QUEUE_DRIVER_LOW, (uint32_t)a);
    wr(VM_QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
    wr(VM_QUEUE_DEVICE_LOW, (uint32_t)u);
    wr(VM_QUEUE_DEVICE_HIGH, (uint32_t)(u >> 32));
    fence_all();
    wr(VM_QUEUE_READY, 1);
    return 0;
}

static int init_device(void) {
    wr(VM_STATUS, 0);
    for (int i = 0; i < 1000 && rd(VM_STATUS) != 0; i++) {}
    wr(VM_STATUS, STATUS_ACKNOWLEDGE);
    wr(VM_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    wr(VM_DEVICE_FEATURES_SEL, 0);
    uint32_t f0 = rd(VM_DEVICE_FEATURES);
    wr(VM_DEVICE_FEATURES_SEL, 1);
    uint32_t f1 = rd(VM_DEVICE_FEATURES);
    if (!(f1 & F_VERSION_1_HIGH)) {
        kprintf("appliance: virtio-net lacks VIRTIO_F_VERSION_1\n");
        wr(VM_STATUS, STATUS_FAILED);
        return -1;
    }
    uint32_t want0 = f0 & NET_F_MAC;
    wr(VM_DRIVER_FEATURES_SEL, 0);
    wr(VM_DRIVER_FEATURES, want0);
    wr(VM_DRIVER_FEATURES_SEL, 1);
    wr(VM_DRIVER_FEATURES, F_VERSION_1_HIGH);
    wr(VM_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(rd(VM_STATUS) & STATUS_FEATURES_OK)) {
        kprintf("appliance: virtio-net refused our features\n");
        wr(VM_STATUS, STATUS_FAILED);
        return -1;
    }
    if (setup_queue(0, &rxq) || setup_queue(1, &txq)) {
        wr(VM_STATUS, STATUS_FAILED);
        return -1;
    }
    nic.has_mac = (want0 & NET_F_MAC) != 0;
    if (nic.has_mac) {
        /* Re-read if the configuration changed under us (generation counter). */
        for (int tries = 0; tries < 4; tries++) {
            uint32_t gen = rd(VM_CONFIG_GENERATION);
            for (int i = 0; i < 6; i++) nic.mac[i] = mmio_read8(dev + VM_CONFIG + (uint32_t)i);
            if (rd(VM_CONFIG_GENERATION) == gen) break;
        }
    }
    /* Receive buffers: all of them posted, device-writable. */
    for (uint16_t i = 0; i < rxq.num; i++) {
        rxq.desc[i].addr = (uintptr_t)rx_buf[i];
        rxq.desc[i].len = BUF_SIZE;
        rxq.desc[i].flags = DESC_F_WRITE;
        rxq.desc[i].next = 0;
        rxq.avail.ring[i] = i;
    }
    for (uint16_t i = 0; i < txq.num; i++) txq.free_list[i] = i;
    txq.nfree = txq.num;
    fence_all();
    rxq.avail_idx = rxq.num;
    rxq.avail.idx = rxq.avail_idx;
    fence_all();
    wr(VM_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    fence_all();
    wr(VM_QUEUE_NOTIFY, 0);
    return 0;
}

int nic_init(void) {
    int found_legacy = 0;
    for (uint32_t slot = 0; slot < VIRTIO_MMIO_SLOTS; slot++) {
        uintptr_t base = VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_STRIDE;
        if (mmio_read32(base + VM_MAGIC) != VIRTIO_MAGIC) continue;
        uint32_t version = mmio_read32(base + VM_VERSION);
        uint32_t id = mmio_read32(base + VM_DEVICE_ID);
        if (id == 0) continue; /* empty slot */
        if (version != 2) {
            kprintf("appliance: virtio-mmio slot %u (0x%lx) device %u has version %u, skipped "
                    "(only version 2 is supported)\n", slot, (uint64_t)base, id, version);
            found_legacy = 1;
            continue;
        }
        if (id != 1) continue;
        dev = base;
        if (init_device() == 0) {
            kprintf("appliance: virtio-net at slot %u (0x%lx), queues %u/%u\n", slot,
                    (uint64_t)base, rxq.num, txq.num);
            return 0;
        }
        dev = 0;
    }
    kprintf("appliance: error: no usable virtio-net device (modern virtio-mmio)%s\n",
            found_legacy ? "; legacy devices found: run QEMU with -global virtio-mmio.force-legacy=false" : "");
    return -1;
}

/* Reclaims transmit descriptors the device has finished with. */
static void tx_reclaim(void) {
    fence_all();
    uint16_t used_idx = txq.used.idx;
    fence_all();
    for (int n = 0; n < QMAX && txq.last_used != used_idx; n++) {
        uint32_t id = txq.used.ring[txq.last_used % txq.num].id;
        txq.last_used++;
        if (id < txq.num && txq.nfree < txq.num) txq.free_list[txq.nfree++] = (uint16_t)id;
    }
}

uint8_t *nic_tx_alloc(void) {
    if (!dev) return NULL;
    if (tx_pending >= 0) return tx_buf[tx_pending] + NET_HDR_LEN;
    if (txq.nfree == 0) tx_reclaim();
    if (txq.nfree == 0) {
        nic.tx_full++;
        return NULL;
    }
    tx_pending = txq.free_list[--txq.nfree];
    return tx_buf[tx_pending] + NET_HDR_LEN;
}

uint8_t *nic_tx_alloc_wait(uint64_t timeout_ticks) {
    if (!dev) return NULL;
    if (tx_pending >= 0) return tx_buf[tx_pending] + NET_HDR_LEN;
    uint64_t deadline = time_now() + timeout_ticks;
    while (txq.nfree == 0) {
        tx_reclaim();
        if (txq.nfree == 0 && time_now() >= deadline) {
            nic.tx_full++;
            return NULL;
        }
    }
    tx_pending = txq.free_list[--txq.nfree];
    return tx_buf[tx_pending] + NET_HDR_LEN;
}

void nic_tx_commit(uint8_t *frame, uint32_t len) {
    if (tx_pending < 0 || frame != tx_buf[tx_pending] + NET_HDR_LEN || len > BUF_SIZE - NET_HDR_LEN)
        return;
    uint16_t d = (uint16_t)tx_pending;
    tx_pending = -1;
    memset(tx_buf[d], 0, NET_HDR_LEN); /* no checksum offload, no GSO */
    txq.desc[d].addr = (uintptr_t)tx_buf[d];
    txq.desc[d].len = len + NET_HDR_LEN;
    txq.desc[d].flags = 0;
    txq.desc[d].next = 0;
    txq.avail.ring[txq.avail_idx % txq.num] = d;
    fence_all();
    txq.avail_idx++;
    txq.avail.idx = txq.avail_idx;
    notify(&txq, 1);
    nic.tx_frames++;
}

int nic_poll(void) {
    if (!dev) return 0;
    fence_all();
    uint16_t used_idx = rxq.used.idx;
    fence_all();
    int n = 0;
    while (n < QMAX && rxq.last_used != used_idx) {
        struct vq_used_elem e = rxq.used.ring[rxq.last_used % rxq.num];
        rxq.last_used++;
        n++;
        if (e.id >= rxq.num) {
            nic.rx_bad++;
            continue;
        }
        if (e.len >= NET_HDR_LEN + 14 && e.len <= BUF_SIZE) {
            nic.rx_frames++;
            net_input(rx_buf[e.id] + NET_HDR_LEN, e.len - NET_HDR_LEN);
        } else {
            nic.rx_bad++;
        }
        /* Give the buffer back. */
        rxq.desc[e.id].len = BUF_SIZE;
        rxq.desc[e.id].flags = DESC_F_WRITE;
        rxq.avail.ring[rxq.avail_idx % rxq.num] = (uint16_t)e.id;
        rxq.avail_idx++;
    }
    if (n) {
        fence_all();
        rxq.avail.idx = rxq.avail_idx;
        notify(&rxq, 0);
    }
    /* Reclaim finished transmissions while we are here, so senders rarely wait. */
    if (txq.nfree < txq.num / 2) tx_reclaim();
    return n;
}

int nic_tx_drain(uint64_t timeout_ticks) {
    if (!dev) return 1;
    uint64_t start = time_now();
    while (time_now() - start < timeout_ticks) {
        tx_reclaim();
        if (txq.nfree == txq.num) return 1;
    }
    return 0;
}
