package engine

// WithoutSharedWaits makes c follow each run's history on its own for
// GetResult, as before shared waits: for before/after measurements.
func WithoutSharedWaits(c *Client) *Client {
	cp := *c
	cp.closes = nil
	return &cp
}
