package visibility

import "github.com/foremanhq/foreman/visibility/searchapi"

// The search API's types live in package searchapi, which links no bleve
// so the console can use them; these aliases keep the names the engine and
// the tests have always used.

// Requests, results and the error of the search API.
type (
	SearchRequest = searchapi.SearchRequest
	SearchResult  = searchapi.SearchResult
	CountRequest  = searchapi.CountRequest
	CountResult   = searchapi.CountResult
	Group         = searchapi.Group
	GetRequest    = searchapi.GetRequest
	GetResult     = searchapi.GetResult
	Lag           = searchapi.Lag
	APIError      = searchapi.APIError
	Doc           = searchapi.Doc
)

// The client of the search API.
type (
	Client     = searchapi.Client
	Requester  = searchapi.Requester
	Subscriber = searchapi.Subscriber
)

// NewClient returns a client sending its requests through r.
func NewClient(r Requester) *Client { return searchapi.NewClient(r) }
