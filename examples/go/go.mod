module github.com/agentgate/agentgate/examples/go

go 1.26

require github.com/agentgate/agentgate/bindings/go v0.0.0

replace github.com/agentgate/agentgate/bindings/go => ../../bindings/go
