package visibility

import "github.com/foremanhq/foreman/visibility/searchapi"

// The search API's types live in package searchapi, which links no bleve
// so the console can use them; these aliases keep the names the engine and
// the tests have always used.

// Subjects of the search API (request/reply, JSON bodies).
const (
	SubjectSearch  = searchapi.SubjectSearch
	SubjectCount   = searchapi.SubjectCount
	SubjectLag     = searchapi.SubjectLag
	SubjectGet     = searchapi.SubjectGet
	SubjectUpdates = searchapi.SubjectUpdates
)

// API error codes (APIError.Code).
const (
	CodeBadQuery   = searchapi.CodeBadQuery
	CodeBadRequest = searchapi.CodeBadRequest
	CodeTimeout    = searchapi.CodeTimeout
	CodeInternal   = searchapi.CodeInternal
)

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
