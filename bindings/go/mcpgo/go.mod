module github.com/portcullis/portcullis/bindings/go/mcpgo

go 1.26

require (
	github.com/mark3labs/mcp-go v1.2.1
	github.com/portcullis/portcullis/bindings/go v0.1.0
)

require (
	github.com/google/jsonschema-go v0.4.3 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.2 // indirect
	github.com/spf13/cast v1.7.1 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	golang.org/x/text v0.28.0 // indirect
)

// Inside the repository the adapter builds against the core module next to it; the replace is
// ignored where this module is a dependency (go get resolves the published core version).
replace github.com/portcullis/portcullis/bindings/go => ../
