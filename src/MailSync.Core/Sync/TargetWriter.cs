using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MailSync.Core.Stores;
using MimeKit;
using Serilog;

namespace MailSync.Core.Sync;

/// <summary>
/// The target half of every copy engine: turns downloaded bytes into an APPEND, appends a batch
/// whose intents are already committed, and resolves intents an interrupted run left pending by
/// looking at the target instead of appending blindly (DESIGN.md §2).
/// </summary>
internal sealed class TargetWriter(
    string job, IMessageTarget target, CheckpointLedger ledger, MigrationOptions options, StoreRetry retry, AccountPipelines pipelines, ILogger log)
{
    /// <summary>
    /// Opens the target folder (read-write, to learn which keywords it keeps). A dry run creates no
    /// folder, so a folder still to be created is planned as an empty one that takes every keyword.
    /// </summary>
    public async Task<FolderStatus> OpenAsync(string targetName, bool exists, bool dryRun, CancellationToken cancellationToken)
    {
        if (dryRun && !exists)
            return new FolderStatus(targetName, 0, 1, null, 0, FlagText.Settable, true, new HashSet<string>());
        return await retry.RunAsync(pipelines.Store, $"select {targetName}", ct => target.OpenFolderAsync(targetName, forWriting: !dryRun, ct), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Changes flags of copies in the open folder. A STORE of absolute additions or removals is idempotent, so a plain retry is safe.</summary>
    public Task StoreFlagsAsync(string folder, IReadOnlyList<uint> uids, FlagChange change, CancellationToken cancellationToken)
        => retry.RunAsync(pipelines.Store, $"store flags on {uids.Count} messages in {folder}", ct => target.StoreFlagsAsync(uids, change, ct), cancellationToken);

    /// <summary>
    /// The open target folder's messages that no ledger row claims (of any job filling the same
    /// folder, nor a copied row of <paramref name="records"/>): what may be paired by content with
    /// a source message. Through the store pipeline.
    /// </summary>
    public Task<List<MessageInfo>> UnclaimedMessagesAsync(FolderPairState pair, IReadOnlyDictionary<uint, MessageRecord> records, CancellationToken cancellationToken)
        => retry.RunAsync(pipelines.Store, $"list {pair.TargetFolder}", ct => UnclaimedAsync(pair, records, 1, null, ct), cancellationToken);

    private async Task<List<MessageInfo>> UnclaimedAsync(
        FolderPairState pair, IReadOnlyDictionary<uint, MessageRecord> records, uint fromUid, IEnumerable<uint>? alsoClaimed, CancellationToken cancellationToken)
    {
        // Other jobs' copies in either ledger layout (migrate jobs keep theirs side-indexed), and this POP3 job's own.
        var claimed = ledger.ClaimedByJobs([.. options.JobsSharingTarget.Where(j => j != job)], job, pair.TargetFolder, pair.TargetUidValidity);
        claimed.UnionWith(ledger.ClaimedTargetUids([job], pair.TargetFolder, pair.TargetUidValidity));
        claimed.UnionWith(alsoClaimed ?? []);
        claimed.UnionWith(records.Values.Where(r => r.State == MessageState.Copied && r.TargetUid is not null).Select(r => r.TargetUid!.Value));
        return [.. (await target.FetchSummariesAsync(fromUid, cancellationToken).ConfigureAwait(false)).Where(c => !claimed.Contains(c.Uid))];
    }

    /// <summary>Header-block hashes of these messages of the open target folder, through the store pipeline.</summary>
    public Task<IReadOnlyDictionary<uint, string>> FetchHeaderHashesAsync(string folder, IReadOnlyList<uint> uids, CancellationToken cancellationToken)
        => retry.RunAsync(pipelines.Store, $"header blocks in {folder}", ct => target.FetchHeaderHashesAsync(uids, ct), cancellationToken);

    /// <summary>The target's folders, through the store pipeline.</summary>
    public Task<IReadOnlyList<FolderInfo>> ListFoldersAsync(CancellationToken cancellationToken)
        => retry.RunAsync(pipelines.Store, "list folders", target.ListFoldersAsync, cancellationToken);

    /// <summary>
    /// Creates the mapped target folders that are missing and subscribes those that should be.
    /// Returns the folders the target would not create or subscribe (a folder-class failure such as
    /// [NOPERM] or a reserved name), with the reason; the caller skips them and goes on.
    /// </summary>
    public async Task<Dictionary<string, string>> EnsureFoldersAsync(FolderMapResult map, IReadOnlyList<FolderInfo> existing, CancellationToken cancellationToken)
    {
        if (!target.Namespace.Personal)
        {
            // Nothing can be created or selected in an account without a mailbox of its own: say so once, for the account.
            throw new StoreFailureException(new FailureClassification(FailureKind.Account,
                $"{job}: the target account has no personal namespace (the server answers NAMESPACE NIL): it holds no mailbox, not even INBOX, so nothing can be copied into it. "
                + "Have the account's INBOX created on the server (Cyrus: an administrator CREATEs user.NAME), then run again"));
        }

        var failed = new Dictionary<string, string>(StringComparer.Ordinal);
        var byName = existing.ToDictionary(f => f.FullName, StringComparer.Ordinal);
        foreach (var folder in map.TargetFoldersToCreate)
        {
            var name = folder.TargetName;
            var exists = byName.TryGetValue(name, out var found) || string.Equals(name, "INBOX", StringComparison.OrdinalIgnoreCase);
            var subscribed = found?.Subscribed ?? false;
            if (exists && (!folder.Subscribe || subscribed))
                continue;
            log.Information("{Job}: {Action} target folder {Folder}", job, exists ? "subscribing" : "creating", name);
            try
            {
                await retry.RunAsync(pipelines.Store, $"create {name}", ct => target.EnsureFolderAsync(name, folder.Subscribe, folder.Role, ct), cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (StoreFailureException ex) when (ex.Kind is FailureKind.Folder or FailureKind.Message)
            {
                log.Warning("{Job}: target folder {Folder} cannot be used: {Reason}", job, name, ex.Message);
                failed[name] = ex.Message;
            }
        }

        return failed;
    }

    /// <summary>
    /// Checks one downloaded message; returns why it cannot be appended, or null with the message
    /// to append (its bytes exactly as the source served them, <see cref="VerbatimMessage"/>) and
    /// whether it needs a binary literal (it holds NUL bytes, which only a target offering BINARY,
    /// RFC 3516, can take). The target then reports the message's size as the spool's length.
    /// </summary>
    public static string? Prepare(Stream? spool, bool targetTakesBinary, out MimeMessage? message, out bool binary, out bool notCrlf)
    {
        message = null;
        binary = false;
        notCrlf = false;
        if (spool is null)
            return "the source did not return the message body";
        var (hasNul, canonical) = RawMessage.Scan(spool);
        if (hasNul && !targetTakesBinary)
            return "contains NUL bytes, which IMAP APPEND can carry only as a binary literal, and the target does not offer BINARY (RFC 3516)";

        binary = hasNul;
        notCrlf = !canonical && !hasNul;
        message = VerbatimMessage.Create(spool);
        return null;
    }

    /// <summary>
    /// Appends a batch whose intents are committed; returns the rows with their outcome. A refusal
    /// of a whole MULTIAPPEND is retried one by one to find the culprits, which are passed to
    /// <paramref name="refused"/>. A transient failure (dropped connection, timeout, throttling) is
    /// retried by the append-with-reconcile pipeline, and never as a raw APPEND: each retry first
    /// looks on the target for the batch's messages, keeps those that landed and appends the rest.
    /// When the retries are spent the intents stay pending for the next run to reconcile. A
    /// message refused because the folder takes no more keywords goes again without the keywords
    /// the folder does not hold, which are counted in <paramref name="folderResult"/>.
    /// </summary>
    public async Task<List<MessageRecord>> AppendAsync(
        FolderPairState pair, IReadOnlyList<AppendItem> items, IReadOnlyList<MessageRecord> intents, uint uidNext,
        Action<MessageRecord, string> refused, TargetKeywords keywords, FolderResult folderResult, CancellationToken cancellationToken)
    {
        var done = new List<MessageRecord>();
        var remaining = items.Select((item, i) => (Item: item, Intent: intents[i])).ToList();
        var oneByOne = false;
        await retry.RunAsync(pipelines.AppendWithReconcile, $"append to {pair.TargetFolder}", async (isRetry, ct) =>
        {
            if (isRetry)
            {
                // The failed attempt may have stored some or all of the batch: look before sending.
                var byUid = remaining.ToDictionary(r => r.Intent.SourceUid, r => r.Intent);
                // Copies this call already has (not yet in the ledger) are not candidates: an identical
                // pending message must not be paired with them.
                var ours = done.Where(r => r.TargetUid is not null).Select(r => r.TargetUid!.Value);
                var landed = await ReconcileAsync(pair, byUid.Values.ToList(), byUid, uidNext, ct, ours).ConfigureAwait(false);
                done.AddRange(byUid.Values);
                remaining = remaining.Where(r => !byUid.ContainsKey(r.Intent.SourceUid)).ToList();
                // What is left goes one message at a time: a batch that cost the connection may
                // hold a message that makes the server drop it again (Cyrus crashes on a
                // MULTIAPPEND past its keyword limit), and alone that message is refused instead.
                oneByOne = true;
                log.Information("{Job}: {Folder}: after the failure {Landed} of the batch had landed; appending {Rest}", job, pair.TargetFolder, landed, remaining.Count);
            }

            while (remaining.Count > 0)
            {
                // Each step's outcome is kept as soon as it is known, so a failure in a later step
                // never sends an already acknowledged message again.
                var step = oneByOne ? remaining.Take(1).ToList() : remaining;
                try
                {
                    var appended = await AppendOnceAsync(pair, step, uidNext, ct).ConfigureAwait(false);
                    done.AddRange(appended);
                    keywords.Held(step.SelectMany(s => s.Item.Keywords));
                }
                catch (TargetRefusedException noRoom) when (step.Count == 1 && step[0].Item.Keywords.Count > 0 && TargetKeywords.IsKeywordLimit(noRoom.ServerText))
                {
                    // The folder is full of keywords: the message goes with those it holds already.
                    keywords.Full();
                    var (item, intent) = step[0];
                    var (send, dropped) = keywords.Filter(item.Keywords);
                    if (dropped.Count == 0)
                        (send, dropped) = ([], [.. item.Keywords]);
                    log.Information("{Job}: {Folder} takes no more keywords ({Reason}); appending without {Dropped}", job, pair.TargetFolder, noRoom.ServerText, string.Join(' ', dropped));
                    folderResult.NoteDroppedKeywords(dropped);
                    remaining[0] = (item with { Keywords = send }, intent with { TargetFlags = FlagText.Format(item.Flags, send) });
                    continue;
                }
                catch (TargetRefusedException batchRefused) when (step.Count > 1)
                {
                    // MULTIAPPEND is all or nothing: nothing was stored, so each message can go alone.
                    log.Debug("{Job}: batch refused ({Reason}); appending one by one", job, batchRefused.ServerText);
                    oneByOne = true;
                    continue;
                }
                catch (StoreFailureException full) when (full.Kind == FailureKind.Account && step.Count > 1 && target.IsConnected)
                {
                    // A full quota refuses the whole MULTIAPPEND although some of it may still fit:
                    // fill what fits one by one; the message that does not fit stops the account.
                    log.Debug("{Job}: batch refused ({Reason}); appending one by one", job, full.Message);
                    oneByOne = true;
                    continue;
                }
                catch (TargetRefusedException oneRefused)
                {
                    var intent = step[0].Intent;
                    var reason = $"refused by the target: {oneRefused.ServerText}"
                        + (step[0].Item.NotCrlf ? " (the message has a bare LF or no final line break, kept as the source served it)" : "");
                    refused(intent, reason);
                    done.Add(intent with { State = MessageState.Failed, LastError = reason, Attempts = intent.Attempts + 1 });
                }

                remaining = remaining.Skip(step.Count).ToList();
            }

            return true;
        }, cancellationToken).ConfigureAwait(false);
        return done;
    }

    /// <summary>One APPEND (or MULTIAPPEND) command; returns the rows with their target UIDs.</summary>
    private async Task<List<MessageRecord>> AppendOnceAsync(
        FolderPairState pair, List<(AppendItem Item, MessageRecord Intent)> batch, uint uidNext, CancellationToken cancellationToken)
    {
        var uids = await target.AppendAsync(pair.TargetFolder, batch.Select(b => b.Item).ToList(), cancellationToken).ConfigureAwait(false);
        var intents = batch.Select(b => b.Intent).ToList();
        if (uids.Any(u => u is null))
        {
            // No APPENDUID (no UIDPLUS): learn the new UIDs by content, as after a crash.
            var byUid = intents.ToDictionary(r => r.SourceUid);
            await ReconcileAsync(pair, intents, byUid, uidNext, cancellationToken).ConfigureAwait(false);
            return byUid.Values.ToList();
        }

        return intents.Select((r, i) => r with { State = MessageState.Copied, TargetUid = uids[i], Attempts = r.Attempts + 1 }).ToList();
    }

    /// <summary>
    /// After the target folder's UIDVALIDITY changed: finds the copied (or pending) rows again by
    /// content in the open target folder and returns them with their new UIDs, plus the failed
    /// rows; rows not found are left out, so they are copied again. Says what it found through
    /// <paramref name="warn"/>.
    /// </summary>
    public async Task<List<MessageRecord>> FindAgainAsync(
        FolderPairState pair, uint newUidValidity, IReadOnlyList<MessageRecord> rows, Action<string> warn, CancellationToken cancellationToken)
    {
        var summaries = await retry.RunAsync(pipelines.Store, $"list {pair.TargetFolder}", ct => target.FetchSummariesAsync(1, ct), cancellationToken).ConfigureAwait(false);
        var landed = rows.Where(r => r.State is MessageState.Copied or MessageState.Pending).ToList();
        var matched = ContentMatcher.Match(landed, r => new ContentKey(r.MessageId ?? string.Empty, r.InternalDateUnix, r.TargetSize), summaries, s => s.Size);
        warn($"{pair.TargetFolder}: target UIDVALIDITY changed ({pair.TargetUidValidity} -> {newUidValidity}); found {matched.Count} of {landed.Count} copied messages again by content; the rest will be copied again");
        return matched.Select(m => m.Wanted with { State = MessageState.Copied, TargetUid = m.Match.Uid })
            .Concat(rows.Where(r => r.State == MessageState.Failed))
            .ToList();
    }

    /// <summary>Resolves intents left pending by an interrupted run; returns how many had in fact landed.</summary>
    public async Task<int> ReconcilePendingAsync(FolderPairState pair, Dictionary<uint, MessageRecord> records, CancellationToken cancellationToken)
    {
        var pending = records.Values.Where(r => r.State == MessageState.Pending).ToList();
        if (pending.Count == 0)
            return 0;
        var from = pending.Min(r => r.TargetUidNextBefore);
        // On a retry the dictionary must be as it was: ReconcileAsync changes it only after its fetch.
        var landed = await retry.RunAsync(pipelines.Store, $"reconcile {pair.TargetFolder}", ct => ReconcileAsync(pair, pending, records, from, ct), cancellationToken)
            .ConfigureAwait(false);
        ledger.Save(pair.Id, pending.Where(p => records.ContainsKey(p.SourceUid)).Select(p => records[p.SourceUid]));
        ledger.Delete(pair.Id, pending.Where(p => !records.ContainsKey(p.SourceUid)).Select(p => p.SourceUid));
        log.Information("{Job}: {Folder}: {Pending} interrupted APPENDs reconciled: {Landed} had landed, {Missing} will be appended again",
            job, pair.TargetFolder, pending.Count, landed, pending.Count - landed);
        return landed;
    }

    /// <summary>
    /// Looks at the target's messages from <paramref name="fromUid"/> on that no ledger row (of any
    /// job filling the same folder) claims, pairs the pending rows with them by content, and drops
    /// from <paramref name="records"/> the pending rows that never landed, so they are appended again.
    /// </summary>
    private async Task<int> ReconcileAsync(
        FolderPairState pair, IReadOnlyList<MessageRecord> pending, Dictionary<uint, MessageRecord> records, uint fromUid, CancellationToken cancellationToken,
        IEnumerable<uint>? alsoClaimed = null)
    {
        var candidates = await UnclaimedAsync(pair, records, fromUid, alsoClaimed, cancellationToken).ConfigureAwait(false);
        var matched = ContentMatcher.Match(pending, r => new ContentKey(r.MessageId ?? string.Empty, r.InternalDateUnix, r.TargetSize), candidates, c => c.Size);
        foreach (var (wanted, match) in matched)
            records[wanted.SourceUid] = wanted with { State = MessageState.Copied, TargetUid = match.Uid, Attempts = wanted.Attempts + 1 };
        foreach (var row in pending.Where(p => records[p.SourceUid].State == MessageState.Pending))
            records.Remove(row.SourceUid);
        return matched.Count;
    }
}
