package query

import (
	bq "github.com/blevesearch/bleve/v2/search/query"
)

// node is the boolean structure both dialects parse into before it is
// lowered to one bleve query, so that equivalent queries in either dialect
// lower to the same bleve structure.
type node struct {
	op    nodeOp
	leaf  bq.Query // opLeaf
	kids  []*node  // opAnd, opOr: two or more; opNot: one
	boost *float64 // set by ^n (bleve dialect)
}

type nodeOp int

const (
	opLeaf nodeOp = iota + 1
	opAnd
	opOr
	opNot
)

func leaf(q bq.Query) *node { return &node{op: opLeaf, leaf: q} }

func and(kids ...*node) *node { return combine(opAnd, kids) }
func or(kids ...*node) *node  { return combine(opOr, kids) }

func combine(op nodeOp, kids []*node) *node {
	if len(kids) == 1 {
		return kids[0]
	}
	return &node{op: op, kids: kids}
}

func not(n *node) *node {
	if n.op == opNot && n.boost == nil {
		return n.kids[0] // NOT NOT x is x
	}
	return &node{op: opNot, kids: []*node{n}}
}

// flat returns the children of n, with same-op children without a boost
// spliced in: (a AND (b AND c)) is a conjunction of three.
func (n *node) flat() []*node {
	var out []*node
	for _, k := range n.kids {
		if k.op == n.op && k.boost == nil {
			out = append(out, k.flat()...)
		} else {
			out = append(out, k)
		}
	}
	return out
}

// lower turns the tree into a bleve query.
//
// Two bleve behaviours shape it: a BooleanQuery ignores a must clause whose
// searcher matches nothing (it would then match everything), so must is
// always a ConjunctionQuery, which keeps an empty searcher inside it; and a
// BooleanQuery with only must_not matches nothing, so a negation on its
// own is match_all minus the negated query.
func (n *node) lower() bq.Query {
	var q bq.Query
	switch n.op {
	case opLeaf:
		q = n.leaf
	case opOr:
		kids := n.flat()
		qs := make([]bq.Query, len(kids))
		for i, k := range kids {
			qs[i] = k.lower()
		}
		q = bq.NewDisjunctionQuery(qs)
	case opAnd:
		var must, mustNot []bq.Query
		for _, k := range n.flat() {
			if k.op == opNot && k.boost == nil {
				mustNot = append(mustNot, k.negated()...)
			} else {
				must = append(must, k.lower())
			}
		}
		switch {
		case len(mustNot) == 0:
			q = bq.NewConjunctionQuery(must)
		case len(must) == 0:
			q = bq.NewBooleanQuery([]bq.Query{bq.NewMatchAllQuery()}, nil, mustNot)
		default:
			q = bq.NewBooleanQuery(must, nil, mustNot)
		}
	case opNot:
		q = bq.NewBooleanQuery([]bq.Query{bq.NewMatchAllQuery()}, nil, n.negated())
	}
	if n.boost != nil {
		if b, ok := q.(bq.BoostableQuery); ok {
			b.SetBoost(*n.boost)
		}
	}
	return q
}

// negated lists what a NOT node excludes: NOT (a OR b) excludes a and b.
func (n *node) negated() []bq.Query {
	x := n.kids[0]
	if x.op == opOr && x.boost == nil {
		var qs []bq.Query
		for _, k := range x.flat() {
			qs = append(qs, k.lower())
		}
		return qs
	}
	return []bq.Query{x.lower()}
}
