// Umbrella header for libpcap. Capture is the only module that imports it.
#ifndef SWITCHBOARD_CPCAP_SHIM_H
#define SWITCHBOARD_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
