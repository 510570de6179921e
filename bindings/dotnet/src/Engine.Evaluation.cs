using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Portcullis.Native;

namespace Portcullis
{
    // Deciding actions: the full decision, the verdict only, the JSON text, explanations.
    public sealed partial class Engine
    {
        /// <summary>Decides an action given as JSON text (the policy language's action object).</summary>
        /// <returns>
        /// The decision. A malformed action (not JSON, not an object, a missing <c>tool</c> or
        /// <c>agent.id</c>, a wrong type, ...) is not an exception: it is a deny with code
        /// <see cref="DecisionCode.InvalidAction"/> whose <see cref="Decision.Reason"/> says what is wrong.
        /// </returns>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public Decision Evaluate(string actionJson)
        {
            byte[] action;
            int length;
            string problem;
            if (!TryEncodeAction(actionJson, out action, out length, out problem)) return DenyInvalid(problem);
            return EvaluateDetails(action, length);
        }

        /// <summary>Decides a tool call.</summary>
        /// <returns>
        /// The decision. A call the engine cannot accept (no tool, no agent id, an argument
        /// with no JSON form such as NaN) is a deny with code <see cref="DecisionCode.InvalidAction"/>.
        /// </returns>
        /// <exception cref="ArgumentNullException"><paramref name="call"/> is null.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public Decision Evaluate(ToolCall call)
        {
            if (call == null) throw new ArgumentNullException(nameof(call));
            byte[] action;
            int length;
            string problem;
            if (call.TryToUtf8(out action, out length, out problem)) return EvaluateDetails(action, length);
            return DenyInvalid(problem);
        }

        /// <summary>
        /// Decides an action given as JSON text and returns only the verdict: effect, code,
        /// deciding rule, retry delay and counts, without the reason, rule lists, rewritten
        /// params and action hash of a <see cref="Decision"/>. The fastest way to decide, for
        /// hosts that act on the effect alone (the engine computes no action hash and nothing is
        /// copied but the rule id).
        /// </summary>
        /// <remarks>
        /// The decision is the same one <see cref="Evaluate(string)"/> makes, and counts the
        /// same: it consumes rate limits and approval uses, and is audited. Evaluate each action
        /// once, with the method whose output you need; when <see cref="Verdict.ParamsModified"/>
        /// is true the action must run with the rewritten params, which only
        /// <see cref="Decision.Params"/> carries. A malformed action is a deny with code
        /// <see cref="DecisionCode.InvalidAction"/>.
        /// </remarks>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public Verdict EvaluateVerdict(string actionJson)
        {
            byte[] action;
            int length;
            string problem;
            if (!TryEncodeAction(actionJson, out action, out length, out problem)) return EvaluateVerdictOf(NotAnAction, 4);
            return EvaluateVerdictOf(action, length);
        }

        /// <summary>Decides a tool call and returns only the verdict; see <see cref="EvaluateVerdict(string)"/>.</summary>
        /// <exception cref="ArgumentNullException"><paramref name="call"/> is null.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public Verdict EvaluateVerdict(ToolCall call)
        {
            if (call == null) throw new ArgumentNullException(nameof(call));
            byte[] action;
            int length;
            string problem;
            // A call with no JSON form is judged as an action that is not an object: the engine
            // denies it as invalid (and audits the deny), as Evaluate does.
            return call.TryToUtf8(out action, out length, out problem) ? EvaluateVerdictOf(action, length) : EvaluateVerdictOf(NotAnAction, 4);
        }

        /// <summary>"null": text the engine always denies as an invalid action.</summary>
        private static readonly byte[] NotAnAction = { (byte)'n', (byte)'u', (byte)'l', (byte)'l', 0 };

        /// <summary>The action as UTF-8, or why it has no UTF-8 form.</summary>
        private static bool TryEncodeAction(string actionJson, out byte[] action, out int length, out string problem)
        {
            if (actionJson == null) throw new ArgumentNullException(nameof(actionJson));
            if (Utf8.TryEncode(actionJson, out action, out length, out problem)) return true;
            problem = "the action text " + problem;
            return false;
        }

        /// <summary>Calls <c>portcullis_engine_evaluate_details</c> and copies the decision out of its struct.</summary>
        private unsafe Decision EvaluateDetails(byte[] action, int length)
        {
            return WithEngine(() =>
            {
                var details = new PortcullisDecisionDetails();
                try
                {
                    int status;
                    fixed (byte* text = action)
                    {
                        RuntimeHelpers.PrepareConstrainedRegions();
                        try
                        {
                        }
                        finally
                        {
                            status = NativeMethods.portcullis_engine_evaluate_details(Native, text, (UIntPtr)(uint)length, &details);
                        }
                    }
                    if (status != NativeMethods.PORTCULLIS_OK) throw Failed("evaluate", status);
                    return Decision.FromDetails(&details, names);
                }
                finally
                {
                    NativeMethods.portcullis_decision_details_free(&details);
                }
            });
        }

        /// <summary>Calls <c>portcullis_engine_evaluate</c> and copies the verdict.</summary>
        private unsafe Verdict EvaluateVerdictOf(byte[] action, int length)
        {
            return WithEngine(() =>
            {
                PortcullisDecision verdict;
                int status;
                fixed (byte* text = action)
                {
                    status = NativeMethods.portcullis_engine_evaluate(Native, text, (UIntPtr)(uint)length, &verdict);
                }
                if (status != NativeMethods.PORTCULLIS_OK) throw Failed("evaluate", status);
                return Verdict.FromNative(&verdict, names);
            });
        }

        /// <summary>
        /// Decides an action given as JSON text and returns the decision as the engine wrote
        /// it: the policy language's decision object as compact JSON (for audit logs or to pass on).
        /// </summary>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public unsafe string EvaluateJson(string actionJson)
        {
            if (actionJson == null) throw new ArgumentNullException(nameof(actionJson));
            byte[] action;
            int length;
            string problem;
            if (!Utf8.TryEncode(actionJson, out action, out length, out problem))
            {
                return DenyInvalid("the action text " + problem).Json;
            }
            return TextCall("evaluate", action, length, NativeMethods.portcullis_engine_evaluate_json);
        }

        /// <summary>
        /// Explains the decision for an action given as JSON text, as JSON text: the rules the
        /// index offered and skipped, each rule's match and conditions with the values read, the
        /// combining steps, and the decision <see cref="EvaluateJson"/> would return now (see
        /// docs/cli/explain.md). A dry run: no rate limit is used, no approval consumed, no audit
        /// record written. A malformed action is explained as its invalid_action decision.
        /// </summary>
        /// <exception cref="ArgumentNullException"><paramref name="actionJson"/> is null.</exception>
        /// <exception cref="InvalidArgumentException">The text has a lone surrogate (it has no UTF-8 form).</exception>
        /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
        /// <exception cref="PortcullisException">The native engine failed during the call.</exception>
        public unsafe string ExplainJson(string actionJson)
        {
            if (actionJson == null) throw new ArgumentNullException(nameof(actionJson));
            byte[] action;
            int length;
            string problem;
            if (!Utf8.TryEncode(actionJson, out action, out length, out problem))
            {
                throw new InvalidArgumentException("the action text " + problem);
            }
            return TextCall("explain", action, length, NativeMethods.portcullis_engine_explain);
        }

        private unsafe delegate int TextExport(PortcullisEngine* engine, byte* text, UIntPtr length, PortcullisBuffer** json);

        /// <summary>Calls an export that reads UTF-8 text and writes a JSON buffer; returns the buffer's text.</summary>
        private unsafe string TextCall(string what, byte[] action, int length, TextExport export)
        {
            return WithEngine(() =>
            {
                using (var buffer = new BufferHandle())
                {
                    int status;
                    fixed (byte* text = action)
                    {
                        RuntimeHelpers.PrepareConstrainedRegions();
                        try
                        {
                        }
                        finally
                        {
                            PortcullisBuffer* json = null;
                            status = export(Native, text, (UIntPtr)(uint)length, &json);
                            buffer.Attach((IntPtr)json);
                        }
                    }
                    if (status != NativeMethods.PORTCULLIS_OK || buffer.IsInvalid) throw Failed(what, status);
                    return buffer.Text;
                }
            });
        }

        /// <summary>
        /// A deny for an action the binding cannot hand over as it is (a lone surrogate, a
        /// value with no JSON form). The engine itself decides on an action that is not an
        /// object, so the effect, code and policy fields are its own; the reason names what
        /// was wrong with the caller's value.
        /// </summary>
        private Decision DenyInvalid(string problem)
        {
            Decision engineDecision = EvaluateDetails(NotAnAction, 4);
            if (engineDecision.Code != DecisionCode.InvalidAction)
            {
                throw new PortcullisException("the engine did not reject an action that is not an object: " + engineDecision.Json);
            }
            return engineDecision.WithReason(problem);
        }
    }
}
