// Package pulse keeps the engine's rolling figures: run starts and closes
// per second, latency histograms, queue backlogs and the worker
// announcements, and serves them to the console's :pulse and :queues views
// (service.go). Issue 20 exports the same figures to Prometheus: every one
// is named once here, with the metric it maps to.
package pulse
