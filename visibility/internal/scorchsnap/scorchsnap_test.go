package scorchsnap

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
)

// What the index relies on of scorch, checked on a real scorch index of
// two segments with a deleted document: the snapshot cast, document
// numbers across segments, terms and term spans as live bitmaps, stored
// fields by number. A bleve upgrade that changes any of it fails here.
func TestSnapshot(t *testing.T) {
	m := mapping.NewIndexMapping()
	doc := mapping.NewDocumentStaticMapping()
	kw := mapping.NewKeywordFieldMapping()
	kw.Store = true
	doc.AddFieldMappingsAt("k", kw)
	m.DefaultMapping = doc
	idx, err := bleve.New(filepath.Join(t.TempDir(), "idx"), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	for _, seg := range [][]string{{"a", "b", "c"}, {"d", "e"}} {
		b := idx.NewBatch()
		for _, k := range seg {
			if err := b.Index("id-"+k, map[string]any{"k": k}); err != nil {
				t.Fatal(err)
			}
		}
		if err := idx.Batch(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.Delete("id-b"); err != nil {
		t.Fatal(err)
	}
	adv, err := idx.Advanced()
	if err != nil {
		t.Fatal(err)
	}
	r, err := adv.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, ok := Of(r)
	if !ok {
		t.Fatalf("a reader of type %T is not a scorch snapshot", r)
	}

	// Every live document, by its number in the snapshot.
	var live []string
	for _, g := range snap.Segments() {
		docs, err := g.TermSpans([]TermSpan{{Field: "k", From: "a", To: "z"}})
		if err != nil {
			t.Fatal(err)
		}
		if all := g.Live(); !all.Equals(docs) {
			t.Errorf("segment [%d, %d): live %v, the span a..z %v", g.Base, g.End, all, docs)
		}
		for it := docs.Iterator(); it.HasNext(); {
			id := index.NewIndexInternalID(nil, g.Base+uint64(it.Next()))
			v, ok, err := snap.StoredField(id, "k")
			if err != nil || !ok {
				t.Fatalf("stored field of %v: %v, %v", id, ok, err)
			}
			live = append(live, string(v))
		}
	}
	slices.Sort(live)
	if want := []string{"a", "c", "d", "e"}; !slices.Equal(live, want) {
		t.Errorf("live documents %v, want %v", live, want)
	}
	// Numbers run segment after segment (a merge may have dropped the
	// deleted document already).
	segs := snap.Segments()
	for i := 1; i < len(segs); i++ {
		if segs[i].Base != segs[i-1].End {
			t.Errorf("segment %d starts at %d, the one before ends at %d", i, segs[i].Base, segs[i-1].End)
		}
	}
	if n := snap.Numbered(); n < 4 || n != segs[len(segs)-1].End {
		t.Errorf("numbered %d; the last segment ends at %d", n, segs[len(segs)-1].End)
	}
	var found []string
	for _, g := range snap.Segments() {
		for _, q := range [][]string{{"b", "d"}, {"nope"}} {
			docs, err := g.Terms("k", q...)
			if err != nil {
				t.Fatal(err)
			}
			for it := docs.Iterator(); it.HasNext(); {
				v, _, _ := snap.StoredField(index.NewIndexInternalID(nil, g.Base+uint64(it.Next())), "k")
				found = append(found, string(v))
			}
		}
	}
	if !slices.Equal(found, []string{"d"}) {
		t.Errorf("terms b, d and nope found %v, want the live d alone", found)
	}
	if _, ok, _ := snap.StoredField(index.NewIndexInternalID(nil, 1000), "k"); ok {
		t.Error("a number past the snapshot reads a document")
	}
	// Merging reads these statistics; a bleve that renamed them would
	// leave it always false.
	stats, _ := idx.StatsMap()["index"].(map[string]any)
	for _, k := range []string{"TotFileMergeZapBeg", "TotFileMergeZapEnd"} {
		if _, ok := stats[k].(uint64); !ok {
			t.Errorf("scorch statistics lack %s", k)
		}
	}
	// Two segments may be merged in the background; the merge ends.
	for deadline := time.Now().Add(10 * time.Second); Merging(idx); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the index still says it is merging after 10 s")
		}
	}
}

// Nothing in visibility but this package imports scorch or its segment
// API: the dependency has one owner.
func TestOnlyOwnerImportsScorch(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := filepath.Abs(".")
	fset := token.NewFileSet()
	seen := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || filepath.Dir(p) == self {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		seen++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasSuffix(path, "/index/scorch") || strings.Contains(path, "scorch_segment_api") || strings.Contains(path, "blevesearch/zapx") {
				t.Errorf("%s imports %s: reach scorch through scorchsnap", p, path)
			}
		}
		return nil
	})
	if err != nil || seen < 20 {
		t.Fatalf("walked %d files of %s: %v", seen, root, err)
	}
}

// TuneFSTBuilder reaches vellum's default builder options (a link to an
// unexported variable: a vellum upgrade that renames it fails the build)
// and sets the registry size zapx's builders get.
func TestTuneFSTBuilder(t *testing.T) {
	if os.Getenv("FOREMAN_FST_REGISTRY") != "" {
		t.Skip("FOREMAN_FST_REGISTRY set")
	}
	TuneFSTBuilder()
	if got := vellumDefaultOpts.RegistryTableSize; got != FSTRegistryCells {
		t.Fatalf("vellum's default registry size %d, want %d", got, FSTRegistryCells)
	}
}
