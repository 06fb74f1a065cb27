// FlowTables: the OpenFlow 1.3 flow datapath (model, classifier, pipeline, groups, stats).
// The wire protocol lives in the OpenFlow module; this module never parses OpenFlow bytes.
