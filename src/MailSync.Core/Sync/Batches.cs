namespace MailSync.Core.Sync;

/// <summary>Cuts a stream of messages into batches bounded by count and by bytes (a big message goes alone).</summary>
internal static class Batches
{
    public static IEnumerable<List<T>> Of<T>(IEnumerable<T> items, Func<T, long> sizeOf, int maxCount, long maxBytes)
    {
        var batch = new List<T>();
        long bytes = 0;
        foreach (var item in items)
        {
            var size = sizeOf(item);
            if (batch.Count > 0 && (batch.Count >= maxCount || bytes + size > maxBytes))
            {
                yield return batch;
                batch = [];
                bytes = 0;
            }

            batch.Add(item);
            bytes += size;
        }

        if (batch.Count > 0)
            yield return batch;
    }
}
