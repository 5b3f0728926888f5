package examples_test

import (
	"errors"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
)

// The README's schedule is valid, fires at five past each hour (Paris),
// and a second create of the same id is refused.
func TestHourlyIngestionSchedule(t *testing.T) {
	e := newEnv(t)
	if err := examples.CreateHourlyIngestion(e.ctx, e.client); err != nil {
		t.Fatal(err)
	}
	d, err := e.client.Schedules().Describe(e.ctx, "ingest-hourly")
	if err != nil {
		t.Fatal(err)
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	if len(d.NextFires) != 5 {
		t.Fatalf("next fires: %v", d.NextFires)
	}
	for i, n := range d.NextFires {
		if n.In(paris).Minute() != 5 || n.Second() != 0 || i > 0 && n.Sub(d.NextFires[i-1]) != time.Hour {
			t.Fatalf("next fires: %v", d.NextFires)
		}
	}
	if err := examples.CreateHourlyIngestion(e.ctx, e.client); !errors.Is(err, engine.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
}
