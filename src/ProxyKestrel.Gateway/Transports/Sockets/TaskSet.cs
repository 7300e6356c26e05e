namespace ProxyKestrel.Gateway.Transports.Sockets;

/// <summary>The running connection tasks of a listener or of the whole gateway; each leaves the set when it ends.</summary>
internal sealed class TaskSet
{
    private readonly HashSet<Task> _tasks = [];

    public void Add(Task task)
    {
        lock (_tasks)
        {
            _tasks.Add(task);
        }

        _ = task.ContinueWith(
            (done, state) =>
            {
                var tasks = (HashSet<Task>)state!;
                lock (tasks)
                {
                    tasks.Remove(done);
                }
            },
            _tasks,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public Task[] Snapshot()
    {
        lock (_tasks)
        {
            return [.. _tasks];
        }
    }
}
