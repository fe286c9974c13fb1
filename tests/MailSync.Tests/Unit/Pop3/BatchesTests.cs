using MailSync.Core.Sync;

namespace MailSync.Tests.Unit.Pop3;

public sealed class BatchesTests
{
    [Fact]
    public void Batches_are_bounded_by_count_and_bytes_and_a_big_item_goes_alone()
    {
        long[] sizes = [10, 10, 10, 100, 10, 10, 10, 10, 10];
        var batches = Batches.Of(sizes, s => s, maxCount: 3, maxBytes: 50).Select(b => b.ToArray()).ToList();
        Assert.Equal([[10, 10, 10], [100], [10, 10, 10], [10, 10]], batches);
        Assert.Empty(Batches.Of(Array.Empty<long>(), s => s, 3, 50));
    }
}
