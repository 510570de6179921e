module github.com/portcullis/portcullis/bindings/go/mcpsdk

go 1.26

require (
	github.com/modelcontextprotocol/go-sdk v1.8.0
	github.com/portcullis/portcullis/bindings/go v0.1.0
)

require (
	github.com/google/jsonschema-go v0.4.3 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	golang.org/x/oauth2 v0.35.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

// Inside the repository the adapter builds against the core module next to it; the replace is
// ignored where this module is a dependency (go get resolves the published core version).
replace github.com/portcullis/portcullis/bindings/go => ../
