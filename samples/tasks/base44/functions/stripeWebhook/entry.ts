import Stripe from 'npm:stripe@14'; // expect: import npm:stripe@14
import { createClientFromRequest } from 'npm:@base44/sdk@0.8.6'; // expect: import npm:@base44/sdk@0.8.6

const stripe = new Stripe(Deno.env.get('STRIPE_SECRET_KEY') ?? '', { apiVersion: '2023-10-16' }); // expect: env STRIPE_SECRET_KEY
const BILLING_PAGE = 'https://tasks-demo.base44.app/settings?billing=ok'; // expect: host tasks-demo.base44.app

// Stripe posts checkout and subscription events here (the URL is set in the Stripe dashboard).
export default async function (req: Request): Promise<Response> { // expect: backend-function stripeWebhook export-default
  const signature = req.headers.get('stripe-signature');
  const secret = Deno.env.get('STRIPE_WEBHOOK_SECRET'); // expect: env STRIPE_WEBHOOK_SECRET
  if (!signature || !secret) {
    return new Response('missing signature', { status: 400 });
  }

  const payload = await req.text();
  let event: Stripe.Event;
  try {
    event = await stripe.webhooks.constructEventAsync(payload, signature, secret);
  } catch (error) {
    return new Response(`bad signature: ${(error as Error).message}`, { status: 400 });
  }

  const base44 = createClientFromRequest(req);
  if (event.type === 'checkout.session.completed') {
    const session = event.data.object as Stripe.Checkout.Session;
    const projectId = session.metadata?.project_id;
    if (projectId) {
      const project = await base44.asServiceRole.entities.Project.update(projectId, { status: 'active' }); // expect: entity Project.update service-role
      await base44.asServiceRole.integrations.Core.SendEmail({ to: project.owner_email, subject: 'Payment received', body: `Your project is active again: ${BILLING_PAGE}` }); // expect: integration Core.SendEmail service-role
    }
  } else if (event.type === 'customer.subscription.deleted') {
    const subscription = event.data.object as Stripe.Subscription;
    const owner = subscription.metadata?.owner_email;
    await base44.asServiceRole.entities.Project.updateMany({ owner_email: owner, status: 'active' }, { $set: { status: 'on_hold' } }); // expect: entity Project.updateMany service-role
  }

  return Response.json({ received: true });
}
