// Evaluates every action of a demo file against a policy with the .NET binding and prints one
// line per decision.
//
//   mono Portcullis.Demo.exe examples/demo-policy.json examples/demo-actions.json
//
// The demo reads its input files with the JSON reader of the binding's sources (compiled in);
// an application would use System.Text.Json or build ToolCall objects directly.
using System;
using System.Collections.Generic;
using System.IO;

namespace Portcullis.Examples
{
    internal static class Demo
    {
        private static int Main(string[] args)
        {
            if (args.Length != 2)
            {
                Console.Error.WriteLine("usage: Portcullis.Demo.exe POLICY.json ACTIONS.json");
                return 2;
            }
            try
            {
                Run(args[0], args[1]);
                return 0;
            }
            catch (PolicyException e)
            {
                Console.Error.WriteLine(args[0] + ": " + e.Message);
            }
            catch (Exception e) when (e is IOException || e is FormatException)
            {
                Console.Error.WriteLine(e.Message);
            }
            return 1;
        }

        private static void Run(string policyPath, string actionsPath)
        {
            using (Engine engine = Engine.FromPolicy(File.ReadAllText(policyPath)))
            {
                var items = JsonReader.Parse(File.ReadAllText(actionsPath)) as List<object>;
                if (items == null) throw new FormatException(actionsPath + ": expected a JSON array of {\"label\", \"action\"}");
                Console.WriteLine("== .NET ==");
                foreach (object entry in items)
                {
                    var item = entry as IDictionary<string, object>;
                    object label, action;
                    if (item == null || !item.TryGetValue("label", out label) || !(label is string) || !item.TryGetValue("action", out action))
                    {
                        throw new FormatException(actionsPath + ": every entry needs a string \"label\" and an \"action\"");
                    }
                    Decision d = Evaluate(engine, action);
                    Console.WriteLine("  " + ((string)label).PadRight(38) + " " + d.Effect.WireName().PadRight(17) + " " +
                                      d.Code.WireName().PadRight(18) + " " + (d.Rule ?? "-"));
                }
            }
        }

        /// <summary>
        /// Sends the action as a ToolCall, the way a host would; an action that does not fit
        /// one (a field of the wrong type, say) goes to the engine as JSON text, so the engine
        /// says what is wrong with it.
        /// </summary>
        private static Decision Evaluate(Engine engine, object action)
        {
            ToolCall call = AsToolCall(action as IDictionary<string, object>);
            return call != null ? engine.Evaluate(call) : engine.Evaluate(JsonWriter.Write(action));
        }

        private static ToolCall AsToolCall(IDictionary<string, object> action)
        {
            if (action == null) return null;
            object tool, agent, id;
            if (!action.TryGetValue("tool", out tool) || !(tool is string)) return null;
            if (!action.TryGetValue("agent", out agent) || !(agent is IDictionary<string, object>)) return null;
            var agentFields = (IDictionary<string, object>)agent;
            if (agentFields.Count != 1 || !agentFields.TryGetValue("id", out id) || !(id is string)) return null;
            var call = new ToolCall((string)tool, (string)id);
            foreach (var field in action)
            {
                switch (field.Key)
                {
                    case "tool":
                    case "agent":
                        break;
                    case "params":
                        call.Arguments = field.Value as IDictionary<string, object>;
                        if (call.Arguments == null) return null;
                        break;
                    case "context":
                        call.Context = field.Value as IDictionary<string, object>;
                        if (call.Context == null) return null;
                        break;
                    case "target":
                        call.Target = field.Value as string;
                        if (call.Target == null) return null;
                        break;
                    case "kind":
                        string kind = field.Value as string;
                        if (kind == "tool_call") call.Kind = ActionKind.ToolCall;
                        else if (kind == "message") call.Kind = ActionKind.Message;
                        else if (kind == "resource") call.Kind = ActionKind.Resource;
                        else return null;
                        break;
                    default:
                        return null;
                }
            }
            return call;
        }
    }
}
