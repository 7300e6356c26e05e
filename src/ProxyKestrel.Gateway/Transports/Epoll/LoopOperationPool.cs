namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// The <see cref="LoopOperation{T}"/> objects of one loop's connections, reused: a connection rents one for its first
/// operation of a kind and gives it back when it starts relaying or closes, so accepting a connection allocates none.
/// Used on the loop's thread only.
/// </summary>
internal sealed class LoopOperationPool<T>
{
    /// <summary>Enough for the connections that are between accept and relay at once; more are dropped.</summary>
    private const int MaxKept = 1024;
    private readonly Stack<LoopOperation<T>> _free = new();

    public LoopOperation<T> Rent() => _free.TryPop(out LoopOperation<T>? operation) ? operation : new LoopOperation<T>();

    /// <summary>Takes back an operation whose result was read (none is pending).</summary>
    public void Return(LoopOperation<T> operation)
    {
        if (!operation.Pending && _free.Count < MaxKept)
        {
            operation.Clear();
            _free.Push(operation);
        }
    }
}
