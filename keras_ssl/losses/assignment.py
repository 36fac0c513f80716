"""A linear-assignment solver made of TensorFlow ops XLA compiles."""

import tensorflow as tf


def auction_assignment(cost, epsilon=1e-5, scaling=5.0, max_iterations=100000):
    """The linear assignment of least total cost by Bertsekas's auction
    algorithm, in TensorFlow ops that XLA compiles (a `tf.while_loop`).

    Bertsekas, "The Auction Algorithm: A Distributed Relaxation Method for
    the Assignment Problem" (Annals of Operations Research 1988), Jacobi
    form with epsilon scaling: every unassigned row bids for its best
    column at the price that would make it indifferent to its second best
    plus `eps`; each column goes to its highest bidder and takes the bid as
    its price; `eps` starts at the cost range over `scaling` and is divided
    by `scaling` until `epsilon` (prices carry over). The result is a
    permutation whose total cost is within `n * epsilon` of the optimum
    (the Hungarian algorithm's optimum exactly when the best and second-best
    totals are further apart than that). The same `cost` gives the same
    permutation on every replica.

    Args:
        cost: float `[n, n]`, `cost[i, j]` the cost of giving row `i`
            column `j`.
        epsilon: float. The last phase's bidding increment.
        scaling: float. How much `eps` shrinks between phases.
        max_iterations: int. Bidding rounds allowed in all (a guard; rows
            still unassigned then take the free columns in order).

    Returns:
        int32 `[n]`: the column of each row, a permutation of `[0, n)`.

    Example:

    >>> auction_assignment(np.array([[4.0, 1.0], [2.0, 8.0]], "float32")).numpy()
    array([1, 0], dtype=int32)
    """
    benefit = -tf.cast(tf.convert_to_tensor(cost), tf.float32)
    # Static when known (XLA needs static shapes through the loops).
    n = benefit.shape[0] if benefit.shape[0] is not None else tf.shape(benefit)[0]
    spread = tf.reduce_max(benefit) - tf.reduce_min(benefit)
    start = tf.maximum(spread / scaling, epsilon)
    rows = tf.range(n)

    def bid_round(eps, prices, owner_of_row, row_of_column):
        values = benefit - prices[None, :]
        best = tf.argmax(values, axis=1, output_type=tf.int32)
        top = tf.reduce_max(values, axis=1)
        others = tf.where(tf.one_hot(best, n, on_value=True, off_value=False), -float("inf"), values)
        # One column: no second best, the bid is the price plus eps.
        second = tf.where(tf.convert_to_tensor(n) > 1, tf.reduce_max(others, axis=1), top)
        bids = tf.gather(prices, best) + (top - second) + eps
        bidding = owner_of_row < 0
        # The highest bid for each column among the bidding rows.
        masked = tf.where(bidding, bids, tf.fill([n], -float("inf")))
        column_bids = tf.math.unsorted_segment_max(masked, best, n)
        won = bidding & tf.equal(masked, tf.gather(column_bids, best))
        # Ties: the lowest row index wins the column.
        winner = tf.math.unsorted_segment_min(tf.where(won, rows, n), best, n)
        has_winner = winner < n
        new_prices = tf.where(has_winner, column_bids, prices)
        # Previous owners of the won columns lose them; winners take them.
        lost = tf.gather(tf.where(has_winner, row_of_column, -1), tf.maximum(owner_of_row, 0))
        owner_of_row = tf.where((owner_of_row >= 0) & tf.equal(lost, rows), -1, owner_of_row)
        is_winner = tf.equal(tf.gather(winner, best), rows) & bidding
        owner_of_row = tf.where(is_winner, best, owner_of_row)
        row_of_column = tf.where(has_winner, winner, row_of_column)
        return new_prices, owner_of_row, row_of_column

    def phase_condition(eps, prices, owner_of_row, row_of_column, iterations):
        return (eps >= epsilon * 0.999) & (iterations < max_iterations)

    def phase(eps, prices, owner_of_row, row_of_column, iterations):
        # Each phase starts with every row unassigned and the prices kept.
        owner_of_row = tf.fill([n], -1)
        row_of_column = tf.fill([n], -1)

        def condition(prices, owner_of_row, row_of_column, iterations):
            return tf.reduce_any(owner_of_row < 0) & (iterations < max_iterations)

        def body(prices, owner_of_row, row_of_column, iterations):
            return (*bid_round(eps, prices, owner_of_row, row_of_column), iterations + 1)

        prices, owner_of_row, row_of_column, iterations = tf.while_loop(
            condition, body, [prices, owner_of_row, row_of_column, iterations]
        )
        return eps / scaling, prices, owner_of_row, row_of_column, iterations

    _, _, owner_of_row, _, _ = tf.while_loop(
        phase_condition,
        phase,
        [start, tf.zeros([n]), tf.fill([n], -1), tf.fill([n], -1), tf.constant(0)],
    )
    # The guard: unassigned rows (if any) take the free columns in order.
    taken = tf.reduce_max(tf.one_hot(tf.where(owner_of_row >= 0, owner_of_row, n), n + 1, dtype=tf.int32), axis=0)[:n]
    free = tf.argsort(taken, stable=True)  # Free columns first.
    unassigned = owner_of_row < 0
    slot = tf.cumsum(tf.cast(unassigned, tf.int32)) - 1
    return tf.where(unassigned, tf.gather(free, tf.maximum(slot, 0)), owner_of_row)
