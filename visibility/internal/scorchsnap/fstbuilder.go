package scorchsnap

import (
	"os"
	"strconv"
	"sync"
	_ "unsafe" // go:linkname

	"github.com/blevesearch/vellum"
)

// zapx builds every segment's term dictionaries with vellum builders made
// with vellum's default options, whose registry (the cache of compiled FST
// nodes that minimization looks them up in) has 10,000 x 2 cells, and it
// resets the builder for every field of every segment it writes or merges:
// 20,000 cells cleared each time, ~75 us whether the field has two terms
// or two million. A live window's segment has ~25 fields and a few hundred
// documents, so these resets were ~45 % of the CPU of writing a one-run
// segment and ~15 % of live indexing's (deployed shape, full load). zapx
// offers no option, so the default is changed where vellum keeps it.
//
//go:linkname vellumDefaultOpts github.com/blevesearch/vellum.defaultBuilderOpts
var vellumDefaultOpts *vellum.BuilderOpts

// FSTRegistryCells is the registry size TuneFSTBuilder sets: a tenth of
// vellum's. A smaller registry only lets minimization miss some shared
// nodes of large dictionaries (a slightly larger FST, never a wrong one).
const FSTRegistryCells = 1000

var tuneOnce sync.Once

// TuneFSTBuilder makes the FST builders zapx creates from now on use a
// registry of FSTRegistryCells (FOREMAN_FST_REGISTRY overrides it, for
// measurements; 0 keeps vellum's). It affects every bleve index of the
// process, and only builders created after it: call it before opening
// an index.
func TuneFSTBuilder() {
	tuneOnce.Do(func() {
		n := FSTRegistryCells
		if v, err := strconv.Atoi(os.Getenv("FOREMAN_FST_REGISTRY")); err == nil && v >= 0 {
			n = v
		}
		if n > 0 {
			vellumDefaultOpts.RegistryTableSize = n
		}
	})
}
