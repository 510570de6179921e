module github.com/agentgate/agentgate/bindings/go

go 1.26
