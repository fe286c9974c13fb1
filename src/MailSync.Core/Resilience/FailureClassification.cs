namespace MailSync.Core.Resilience;

/// <summary>
/// What a failure means (DESIGN.md §4) and why, so the engine can react and the report can say it.
/// </summary>
/// <param name="Kind">Decides the reaction: retry, skip the message, skip the folder, stop the account.</param>
/// <param name="Reason">A short explanation with the server's own words, for the log and the report.</param>
/// <param name="SuggestedDelay">How long to wait before trying again, when the server said or the limit is known.</param>
/// <param name="ParkAccount">
/// The account hit a rate or bandwidth limit (Gmail [OVERQUOTA] "Account exceeded command or bandwidth
/// limits", [THROTTLED], too many simultaneous connections): back off for long with every connection of
/// the account, instead of spinning on reconnects that only extend the ban.
/// </param>
/// <param name="ProtocolViolation">The server broke IMAP's rules or the account's limits (<see cref="Stores.ServerMisbehavedException"/>): a re-run meets the same answer.</param>
public sealed record FailureClassification(FailureKind Kind, string Reason, TimeSpan? SuggestedDelay = null, bool ParkAccount = false, bool ProtocolViolation = false);
